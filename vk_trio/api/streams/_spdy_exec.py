"""exec/attach over SPDY: pair the client's streams by ``streamType`` into RemoteCommandStreams.

After the upgrade the client opens one SPDY stream per channel it wants, tagged with a
``streamType`` header: ``error`` always, ``stdin``/``stdout``/``stderr`` as requested, and
``resize`` with a tty on protocol v3 and later.  The server replies to each stream as it arrives
and waits (up to the stream-creation timeout) until all expected streams are there.

Version differences, as in the kubelet: v4 and v5 report the result as JSON Status, v2 and v3 as
the message text of failures; v1 (``channel.k8s.io``, also used when the client negotiated
nothing) has no resize, half-closes stdin from our side and resets the error stream as soon as
the streams are complete, so v1 clients never receive a result - the behaviour of Kubernetes
1.0 kubelets that the protocol version pins.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import trio

from vk_trio.api.spdy import RstStatus, SpdyConnection, SpdyConnectionClosed, SpdyStream
from vk_trio.api.spdy._unwrap import unwrap_single_exception
from vk_trio.provider import TermSize

from ._interface import RemoteCommandOptions, RemoteCommandStreams, StreamCreationTimeout
from ._protocols import (
    STREAM_PROTOCOL_V1,
    STREAM_PROTOCOL_V2,
    STREAM_PROTOCOL_V3,
    STREAM_PROTOCOL_V4,
    STREAM_PROTOCOL_V5,
)
from ._resize import pump_resize_events
from ._status import Status, encode_status

__all__ = ["accept_spdy_remote_command"]

logger = logging.getLogger(__name__)

_VERSIONS = {
    STREAM_PROTOCOL_V5: 5,
    STREAM_PROTOCOL_V4: 4,
    STREAM_PROTOCOL_V3: 3,
    STREAM_PROTOCOL_V2: 2,
    STREAM_PROTOCOL_V1: 1,
    "": 1,
}


async def _collect_streams(
    connection: SpdyConnection, expected: set[str]
) -> tuple[dict[str, SpdyStream], list[SpdyStream]]:
    streams: dict[str, SpdyStream] = {}
    extra: list[SpdyStream] = []
    while expected - streams.keys():
        try:
            stream = await connection.accept_stream()
        except SpdyConnectionClosed:
            for leftover in [*streams.values(), *extra]:
                await leftover.aclose()
            raise
        await stream.reply()
        stream_type = stream.header("streamtype") or ""
        if stream_type in expected and stream_type not in streams:
            streams[stream_type] = stream
        else:
            logger.warning("unexpected stream type %r on SPDY stream %s", stream_type, stream)
            extra.append(stream)
    return streams, extra


async def _refuse_further_streams(connection: SpdyConnection) -> None:
    while True:
        try:
            stream = await connection.accept_stream()
        except SpdyConnectionClosed:
            return
        await stream.reset(RstStatus.REFUSED_STREAM)


@asynccontextmanager
async def accept_spdy_remote_command(
    connection: SpdyConnection,
    protocol: str,
    options: RemoteCommandOptions,
    *,
    creation_timeout: float = 30.0,
) -> AsyncIterator[RemoteCommandStreams]:
    """Wait for the client's streams and yield them as :class:`RemoteCommandStreams`.

    ``protocol`` is the negotiated ``X-Stream-Protocol-Version`` (see
    :func:`negotiate_spdy_protocol`).  Raises :class:`StreamCreationTimeout` if the streams do
    not all arrive within ``creation_timeout`` seconds, and
    :class:`~vk_trio.api.spdy.SpdyConnectionClosed` if the client goes away first.  Leaving the
    block half-closes stdout, stderr and the error stream (FIN, so the client reads to the end)
    and closes the rest.
    """
    if protocol not in _VERSIONS:
        raise ValueError(f"unsupported remote command protocol {protocol!r}")
    version = _VERSIONS[protocol]
    expected = {"error"}
    for name, wanted in (("stdin", options.stdin), ("stdout", options.stdout)):
        if wanted:
            expected.add(name)
    if options.stderr:
        expected.add("stderr")
    if options.tty and version >= 3:
        expected.add("resize")

    with trio.move_on_after(creation_timeout) as scope:
        streams, extra = await _collect_streams(connection, expected)
    if scope.cancelled_caught:
        raise StreamCreationTimeout("timed out waiting for client to create streams")

    error_stream = streams["error"]
    if version == 1:
        # Kubernetes 1.0 compatibility: stdin half-closed by us, error stream reset right away.
        if "stdin" in streams:
            await streams["stdin"].send_eof()
        await error_stream.reset(RstStatus.CANCEL)

    async def write_status(status: Status) -> None:
        if version == 1:
            await trio.lowlevel.checkpoint()
            return
        payload = encode_status(status, json_status=version >= 4)
        try:
            if payload:
                await error_stream.send_all(payload)
            await error_stream.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.info("could not write the exec status: %s", exc)

    resize_send: trio.MemorySendChannel[TermSize] | None = None
    resize_receive: trio.MemoryReceiveChannel[TermSize] | None = None
    if options.tty and "resize" in streams:
        resize_send, resize_receive = trio.open_memory_channel[TermSize](16)

    result = RemoteCommandStreams(
        protocol=protocol,
        options=options,
        stdin=streams.get("stdin"),
        stdout=streams.get("stdout"),
        stderr=streams.get("stderr"),
        resize=resize_receive,
        status_writer=write_status,
        closed_waiter=connection.wait_peer_gone,
    )
    try:
        with unwrap_single_exception():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_refuse_further_streams, connection)
                if resize_send is not None:
                    nursery.start_soon(pump_resize_events, streams["resize"], resize_send)
                try:
                    yield result
                finally:
                    nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            for name in ("stdout", "stderr", "error"):
                if (stream := streams.get(name)) is not None:
                    await _finish(stream)
            for stream in [*streams.values(), *extra]:
                await stream.aclose()
            if resize_receive is not None:
                await resize_receive.aclose()


async def _finish(stream: SpdyStream) -> None:
    with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_eof()
