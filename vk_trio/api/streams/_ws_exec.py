"""exec/attach over a WebSocket channel protocol.

Channels 0-4 are stdin, stdout, stderr, error and resize; only the requested std channels are
used (messages for others are dropped).  Right after the streams are set up the server sends an
empty message on the lowest output channel it will use (stdout, else stderr, else error), the
"connected" signal clients wait for.  The result goes on the error channel as JSON Status (v4,
v5) or as the failure text (v1 protocols).  A v5 client half-closes stdin with a CLOSE message;
with older protocols stdin ends only when the WebSocket closes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from vk_trio.api.spdy._unwrap import unwrap_single_exception
from vk_trio.provider import TermSize

from ._channels import (
    CHANNEL_ERROR,
    CHANNEL_RESIZE,
    CHANNEL_STDERR,
    CHANNEL_STDIN,
    CHANNEL_STDOUT,
    channel_protocol,
)
from ._interface import RemoteCommandOptions, RemoteCommandStreams
from ._mux import ChannelMux
from ._resize import pump_resize_events
from ._status import Status, encode_status
from ._transport import WebSocketTransport

__all__ = ["open_websocket_remote_command"]

logger = logging.getLogger(__name__)


@asynccontextmanager
async def open_websocket_remote_command(
    transport: WebSocketTransport,
    subprotocol: str,
    options: RemoteCommandOptions,
    *,
    max_buffer: int = 1 << 20,
) -> AsyncIterator[RemoteCommandStreams]:
    """Yield :class:`RemoteCommandStreams` over an accepted WebSocket.

    ``subprotocol`` is the one the route accepted (``""`` if the client offered none).  The
    WebSocket is not closed on exit: the route closes it (normally with code 1000 after the
    status, which is how clients learn that the output channels ended).
    """
    protocol = channel_protocol(subprotocol)
    mux = ChannelMux(transport, protocol, max_buffer=max_buffer)
    stdin = mux.reader(CHANNEL_STDIN) if options.stdin else None
    resize_reader = mux.reader(CHANNEL_RESIZE) if options.tty else None
    stdout = mux.writer(CHANNEL_STDOUT) if options.stdout else None
    stderr = mux.writer(CHANNEL_STDERR) if options.stderr else None

    async def write_status(status: Status) -> None:
        payload = encode_status(status, json_status=protocol.json_status)
        if payload is None:
            await trio.lowlevel.checkpoint()
            return
        try:
            await mux.send(CHANNEL_ERROR, payload)
        except trio.BrokenResourceError as exc:
            logger.info("could not write the exec status: %s", exc)

    resize_send: trio.MemorySendChannel[TermSize] | None = None
    resize_receive: trio.MemoryReceiveChannel[TermSize] | None = None
    if resize_reader is not None:
        resize_send, resize_receive = trio.open_memory_channel[TermSize](16)

    result = RemoteCommandStreams(
        protocol=subprotocol,
        options=options,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        resize=resize_receive,
        status_writer=write_status,
        closed_waiter=mux.closed.wait,
    )
    with unwrap_single_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(mux.run_reader)
            if resize_reader is not None and resize_send is not None:
                nursery.start_soon(pump_resize_events, resize_reader, resize_send)
            try:
                connected = (
                    CHANNEL_STDOUT
                    if options.stdout
                    else CHANNEL_STDERR
                    if options.stderr
                    else CHANNEL_ERROR
                )
                await mux.send(connected, b"")
                yield result
            finally:
                nursery.cancel_scope.cancel()
                if resize_receive is not None:
                    with trio.CancelScope(shield=True):
                        await resize_receive.aclose()
