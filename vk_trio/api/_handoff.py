"""Handing a connection the front door has opened to hypercorn's per-connection server.

hypercorn's trio worker serves each accepted connection with ``TCPServer(app, config, context,
state, stream)``.  The front door has already done the TLS handshake and (for HTTP/1.1) read the
first request head, so it passes :class:`ReplayStream`: it looks like the ``trio.SSLStream``
hypercorn expects (handshake already done, the negotiated ALPN protocol, the socket for the
addresses) and replays the bytes already read before reading on.  The ASGI app is wrapped per
connection to put the verified client identity into every scope as the ``tls`` extension.

This uses hypercorn internals (``hypercorn.trio.tcp_server.TCPServer``,
``hypercorn.trio.worker_context.WorkerContext``) that are not a documented API, so the version
is pinned in ``pyproject.toml`` and ``tests/api/test_handoff.py`` exercises the seam (HTTP/1.1
keep-alive, HTTP/2, WebSocket, replay split across reads, graceful termination).

hypercorn writes to the socket inside a *shielded* cancel scope, so a client that stops reading
would hold its handler (and a graceful shutdown) for as long as it likes.  :class:`ReplayStream`
therefore puts a write deadline on every ``send_all`` (a deadline set inside a shielded scope
still fires): a write that makes no progress for ``write_timeout`` seconds closes the
connection.  :meth:`HypercornHandoff.abort` does the same for every connection at once - the
hard deadline after a graceful stop.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, final

import h2.exceptions
import h11
import trio
import wsproto.utilities
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext

__all__ = ["HypercornHandoff", "ReplayStream"]

logger = logging.getLogger(__name__)

AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


Address = tuple[str, int]


#: Protocol errors of hypercorn's layers: what a client's malformed bytes end in.
_CLIENT_PROTOCOL_ERRORS = (
    h11.ProtocolError,
    h2.exceptions.ProtocolError,
    wsproto.utilities.ProtocolError,
    UnicodeError,
)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


class _ClientErrorsAreInfo(logging.Filter):
    """hypercorn logs "Error in ASGI Framework" with a traceback when a client's malformed
    bytes leave its h11/h2/wsproto state machine in error (e.g. data pipelined behind a
    WebSocket upgrade; found by the fuzzer).  That is the client's fault and ends only its
    connection: one INFO line, so that nobody can fill the log with tracebacks at will."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.exc_info and record.exc_info[1]:
            leaves = _leaves(record.exc_info[1])
            if leaves and all(isinstance(e, _CLIENT_PROTOCOL_ERRORS) for e in leaves):
                record.msg = "kubelet API connection dropped: client protocol error: %r"
                record.args = (leaves[0],)
                record.levelno, record.levelname = logging.INFO, "INFO"
                record.exc_info = record.exc_text = None
                return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


_HYPERCORN_LOG = logging.getLogger("vk_trio.api.hypercorn")
_HYPERCORN_LOG.addFilter(_ClientErrorsAreInfo())


@final
class _SocketInfo:
    """The part of a socket hypercorn reads: family and the two addresses."""

    def __init__(self, family: int, peer: Any, local: Any) -> None:
        self.family = family
        self._peer = peer
        self._local = local

    def getpeername(self) -> Any:
        return self._peer

    def getsockname(self) -> Any:
        return self._local


@final
class _Transport:
    def __init__(self, socket: _SocketInfo) -> None:
        self.socket = socket


def _socket_info(stream: trio.abc.Stream) -> _SocketInfo:
    inner = getattr(stream, "transport_stream", stream)
    sock = getattr(inner, "socket", None)
    if sock is not None:
        try:
            return _SocketInfo(sock.family, sock.getpeername(), sock.getsockname())
        except OSError:
            pass
    # Not a socket (tests over memory streams) or already disconnected.
    return _SocketInfo(socket.AF_INET, ("127.0.0.1", 0), ("127.0.0.1", 0))


@final
class ReplayStream:
    """A finished ``trio.SSLStream`` (or any stream) with ``prefix`` put back in front."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        prefix: bytes,
        alpn_protocol: str,
        *,
        write_timeout: float = math.inf,
    ) -> None:
        self._stream = stream
        self._prefix = prefix
        self._alpn = alpn_protocol
        self._write_timeout = write_timeout
        self._sending: trio.CancelScope | None = None
        self._aborted = False
        self.transport_stream = _Transport(_socket_info(stream))

    async def do_handshake(self) -> None:
        """Already done by the front door."""
        await trio.lowlevel.checkpoint()

    def selected_alpn_protocol(self) -> str:
        return self._alpn

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            await trio.lowlevel.checkpoint()
            return data
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send, or close the connection if the peer takes nothing for ``write_timeout``
        seconds (or :meth:`abort` is called): then :class:`trio.BrokenResourceError`."""
        if self._aborted:
            await trio.lowlevel.checkpoint()
            raise trio.BrokenResourceError("connection aborted")
        with trio.move_on_after(self._write_timeout) as scope:
            self._sending = scope
            try:
                await self._stream.send_all(data)
            finally:
                self._sending = None
        if scope.cancelled_caught:
            reason = "aborted at shutdown" if self._aborted else "stalled"
            self._aborted = True
            logger.info("kubelet API connection closed: write %s", reason)
            await trio.aclose_forcefully(self._stream)
            raise trio.BrokenResourceError(f"write {reason}")

    def abort(self) -> None:
        """Make the pending and every later write fail (the connection then closes)."""
        self._aborted = True
        if self._sending is not None:
            self._sending.cancel()

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


@final
class HypercornHandoff:
    """Serves handed-off connections with hypercorn; one per server (shared worker context)."""

    def __init__(
        self,
        app: AsgiApp,
        *,
        keep_alive_timeout: float = 5.0,
        max_head_size: int = 64 * 1024,
        websocket_max_message_size: int = 1024 * 1024,
        websocket_queue_size: int = 4,
        h2_max_concurrent_streams: int = 100,
        max_requests_per_connection: int = 10_000,
        write_timeout: float = 60.0,
    ) -> None:
        self._app = app
        config = Config()
        config.keep_alive_timeout = keep_alive_timeout
        # A finite number of requests per connection: a client then pays a TLS handshake (and
        # a slot under the front door's connection limit) every so many requests instead of
        # pipelining forever on one connection.  The API server's pool reconnects transparently.
        config.keep_alive_max_requests = max_requests_per_connection
        # What one WebSocket may buffer: a message being assembled plus the ASGI queue of
        # complete ones (hypercorn's defaults, 16 MiB x 10, allow ~160 MiB per connection).
        # Kubernetes clients send stdin and port-forward data in chunks of at most 32 KiB.
        config.max_app_queue_size = websocket_queue_size
        config.h11_max_incomplete_size = max_head_size
        config.h2_max_header_list_size = max_head_size
        config.h2_max_concurrent_streams = h2_max_concurrent_streams
        config.websocket_max_message_size = websocket_max_message_size
        config.include_server_header = False
        config.accesslog = None
        config.errorlog = _HYPERCORN_LOG
        self.config = config
        self.write_timeout = write_timeout
        self._context = WorkerContext(None)
        self._state: dict[str, Any] = {}
        self._streams: set[ReplayStream] = set()

    async def serve(
        self,
        stream: trio.abc.Stream,
        *,
        prefix: bytes,
        alpn_protocol: str,
        tls: dict[str, Any],
    ) -> None:
        """Serve ``stream`` (already TLS, ``prefix`` already read) until hypercorn closes it."""
        app = self._app

        async def app_with_tls(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
            send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        ) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await app(scope, receive, send)

        # Duck-typed on purpose: hypercorn annotates trio.SSLStream and its own scope types.
        replay = ReplayStream(stream, prefix, alpn_protocol, write_timeout=self.write_timeout)
        asgi: Any = app_with_tls
        hypercorn_stream: Any = replay
        server = TCPServer(
            ASGIWrapper(asgi), self.config, self._context, self._state, hypercorn_stream
        )
        self._streams.add(replay)
        try:
            await server.run()
        except* (*_CLIENT_PROTOCOL_ERRORS, ValueError) as group:
            # hypercorn (or wsproto/h2 under it) choking on a malformed request: that
            # connection is over, nothing else is affected; not worth a traceback per client.
            logger.info("kubelet API connection dropped: malformed request: %r", group.exceptions)
        finally:
            self._streams.discard(replay)

    async def terminate(self) -> None:
        """Ask every handed-off connection to finish: idle keep-alive connections close now,
        busy ones after their current response (``Connection: close``)."""
        await self._context.terminated.set()

    def abort(self) -> None:
        """Fail every handed-off connection's pending and later writes, so that handlers
        stuck writing to clients that stopped reading end (the hard deadline after stop)."""
        for stream in list(self._streams):
            stream.abort()
