"""SPDY tunnelled through a WebSocket: a byte stream made of binary messages.

Recent ``kubectl port-forward`` talks WebSocket to the API server with subprotocol
``SPDY/3.1+portforward.k8s.io`` and runs an ordinary SPDY session *inside* it: the SPDY bytes
travel in binary messages with arbitrary boundaries, nothing else (KEP-4006).  API servers with
``ExtendWebSocketsToKubelet`` pass such a WebSocket on to the kubelet unchanged.
:class:`WebSocketByteStream` turns the WebSocket back into a byte stream, so the same
``open_spdy_connection`` + ``serve_spdy_port_forward`` serve it.
"""

from __future__ import annotations

import contextlib
import operator
from typing import final

import trio

from ._transport import ClosableWebSocketTransport, WebSocketClosed

__all__ = ["WebSocketByteStream"]


@final
class WebSocketByteStream(trio.abc.Stream):
    """A :class:`trio.abc.Stream` over binary WebSocket messages.

    A normal close (code 1000, or no code) is EOF, as client-go's tunnelling connection treats
    it; any other close, or a text message, breaks the stream.  ``aclose`` closes the WebSocket
    with 1000.
    """

    def __init__(
        self, transport: ClosableWebSocketTransport, *, max_message_size: int = 256 * 1024
    ) -> None:
        self._transport = transport
        self._max_message_size = max_message_size
        self._pending = b""
        self._eof = False
        self._closed = False
        self._receiving = False
        self._sending = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()
            if self._closed:
                raise trio.ClosedResourceError("the tunnel is closed")
            view = memoryview(data)
            for offset in range(0, len(view), self._max_message_size):
                try:
                    await self._transport.send_message(
                        bytes(view[offset : offset + self._max_message_size])
                    )
                except WebSocketClosed as exc:
                    raise trio.BrokenResourceError(str(exc)) from exc
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the tunnel is closed")
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._receiving = True
        try:
            await trio.lowlevel.checkpoint()
            if self._closed:
                raise trio.ClosedResourceError("the tunnel is closed")
            while not self._pending and not self._eof:
                try:
                    message = await self._transport.receive_message()
                except WebSocketClosed as exc:
                    if exc.code not in (None, 1000):
                        raise trio.BrokenResourceError(str(exc)) from exc
                    self._eof = True
                    break
                if isinstance(message, str):
                    raise trio.BrokenResourceError("text message in a binary tunnel")
                self._pending = message
            size = len(self._pending) if max_bytes is None else max_bytes
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        with contextlib.suppress(WebSocketClosed):
            await self._transport.aclose(1000, "")
