"""The wire-independent view of a streaming session that exec/attach/port-forward handlers use.

Whether the client came over SPDY or over one of the WebSocket channel protocols, a handler gets
the same two shapes:

* :class:`RemoteCommandStreams` for exec/attach: optional ``stdin`` (a trio ReceiveStream),
  ``stdout``/``stderr`` (trio SendStreams), ``resize`` (a channel of
  :class:`~vk_trio.provider.TermSize`), :meth:`~RemoteCommandStreams.write_status` for the
  result, and :meth:`~RemoteCommandStreams.attach_io` to hand it all to a provider;
* :class:`PortForwardStream` for each forwarded connection: a ``port``, a bidirectional ``data``
  stream and :meth:`~PortForwardStream.write_error`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import final

import attrs
import trio

from vk_trio.provider import AttachIO, TermSize

from ._status import Status

__all__ = [
    "PortForwardHandler",
    "PortForwardStream",
    "RemoteCommandOptions",
    "RemoteCommandStreams",
    "StreamCreationTimeout",
    "parse_remote_command_options",
]


@final
@attrs.frozen(kw_only=True)
class RemoteCommandOptions:
    """Which streams an exec/attach client asked for (query parameters ``stdin``, ``stdout``,
    ``stderr``, ``tty``; ``"1"`` means yes)."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False


def parse_remote_command_options(query: Mapping[str, Sequence[str]]) -> RemoteCommandOptions:
    """Parse the exec/attach query (``{name: [values]}``); raises :class:`ValueError` with
    Virtual Kubelet's texts (HTTP 400): ``tty`` with ``stderr`` is refused, and at least one
    of the three streams is required.  ``input``/``output``/``error`` are accepted as the
    older names of ``stdin``/``stdout``/``stderr``."""

    def flag(*names: str) -> bool:
        return any(v == "1" for name in names for v in query.get(name, ()))

    options = RemoteCommandOptions(
        stdin=flag("stdin", "input"),
        stdout=flag("stdout", "output"),
        stderr=flag("stderr", "error"),
        tty=flag("tty"),
    )
    if options.tty and options.stderr:
        raise ValueError("cannot exec with tty and stderr")
    if not (options.stdin or options.stdout or options.stderr):
        raise ValueError("you must specify at least one of stdin, stdout, stderr")
    return options


class StreamCreationTimeout(Exception):
    """The client did not open all the streams it announced within the creation timeout."""


@final
class RemoteCommandStreams:
    """The streams of one exec/attach session, whatever the wire.

    Created by ``accept_spdy_remote_command`` or ``open_websocket_remote_command``; valid inside
    their ``async with`` block, which closes whatever the handler left open.
    """

    def __init__(
        self,
        *,
        protocol: str,
        options: RemoteCommandOptions,
        stdin: trio.abc.ReceiveStream | None,
        stdout: trio.abc.SendStream | None,
        stderr: trio.abc.SendStream | None,
        resize: trio.MemoryReceiveChannel[TermSize] | None,
        status_writer: Callable[[Status], Awaitable[None]],
        closed_waiter: Callable[[], Awaitable[None]],
    ) -> None:
        self.protocol = protocol
        self.options = options
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.resize = resize
        self._status_writer = status_writer
        self._closed_waiter = closed_waiter
        self._status_written = False

    @property
    def tty(self) -> bool:
        return self.options.tty

    @property
    def status_written(self) -> bool:
        return self._status_written

    async def write_status(self, status: Status) -> None:
        """Report the result (see ``_status.py``) and end the error stream.  Only the first call
        has an effect: a session has exactly one result."""
        if self._status_written:
            await trio.lowlevel.checkpoint()
            return
        self._status_written = True
        await self._status_writer(status)

    async def wait_closed(self) -> None:
        """Return when the client has gone (connection closed, or it sent GOAWAY): the moment to
        cancel the provider's call."""
        await self._closed_waiter()

    def attach_io(self) -> AttachIO:
        """The provider-facing view of these streams."""
        return AttachIO(
            stdin=self.stdin,
            stdout=self.stdout,
            stderr=self.stderr,
            tty=self.options.tty,
            resize=self.resize,
        )


@final
class PortForwardStream:
    """One forwarded connection: bytes to and from ``port`` of the pod travel on ``data``."""

    def __init__(
        self,
        *,
        port: int,
        request_id: str,
        data: trio.abc.HalfCloseableStream,
        error_writer: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self.port = port
        self.request_id = request_id
        self.data = data
        self._error_writer = error_writer

    async def write_error(self, message: str) -> None:
        """Send an error text to the client (kubectl prints it and closes this connection)."""
        await self._error_writer(message.encode())


#: ``async def handler(stream: PortForwardStream) -> None``: serve one forwarded connection.
PortForwardHandler = Callable[[PortForwardStream], Awaitable[None]]
