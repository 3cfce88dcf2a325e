"""SPDY tunnelled through WebSocket binary messages (KEP-4006 port-forward)."""

from __future__ import annotations

import pytest
import trio

from vk_trio.api.spdy import open_spdy_connection
from vk_trio.api.streams import (
    PortForwardStream,
    WebSocketByteStream,
    WebSocketClosed,
    serve_spdy_port_forward,
)

from .helpers import MemoryWebSocket, memory_websocket_pair


class ClosingWebSocket:
    """A scripted WebSocket that delivers messages and then a close with ``code``."""

    def __init__(self, messages: list[bytes | str], code: int | None) -> None:
        self.messages = messages
        self.code = code
        self.sent: list[bytes | str] = []
        self.closed_with: int | None = None

    async def send_message(self, message: bytes | str) -> None:
        await trio.lowlevel.checkpoint()
        if self.closed_with is not None:
            raise WebSocketClosed(self.closed_with)
        self.sent.append(message)

    async def receive_message(self) -> bytes | str:
        await trio.lowlevel.checkpoint()
        if not self.messages:
            raise WebSocketClosed(self.code)
        return self.messages.pop(0)

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await trio.lowlevel.checkpoint()
        self.closed_with = code


async def test_bytes_across_message_boundaries_and_eof_on_normal_close() -> None:
    stream = WebSocketByteStream(ClosingWebSocket([b"abc", b"defgh"], 1000))
    assert await stream.receive_some(2) == b"ab"
    assert await stream.receive_some() == b"c"
    assert await stream.receive_some(10) == b"defgh"
    assert await stream.receive_some() == b""
    assert await stream.receive_some() == b""


async def test_abnormal_close_and_text_messages_break_the_stream() -> None:
    with pytest.raises(trio.BrokenResourceError):
        await WebSocketByteStream(ClosingWebSocket([], 1006)).receive_some()
    with pytest.raises(trio.BrokenResourceError, match="text message"):
        await WebSocketByteStream(ClosingWebSocket(["text"], 1000)).receive_some()


async def test_sending_splits_into_messages_and_close_is_normal() -> None:
    ws = ClosingWebSocket([], 1000)
    stream = WebSocketByteStream(ws, max_message_size=4)
    await stream.send_all(b"0123456789")
    assert ws.sent == [b"0123", b"4567", b"89"]
    await stream.aclose()
    await stream.aclose()
    assert ws.closed_with == 1000
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some()


async def test_spdy_port_forward_inside_a_websocket() -> None:
    client_ws, server_ws = memory_websocket_pair()

    async def echo(stream: PortForwardStream) -> None:
        while data := await stream.data.receive_some():
            await stream.data.send_all(data)

    async with trio.open_nursery() as nursery:

        async def serve(ws: MemoryWebSocket) -> None:
            async with open_spdy_connection(WebSocketByteStream(ws), linger=0) as spdy:
                await serve_spdy_port_forward(spdy, echo)

        nursery.start_soon(serve, server_ws)
        async with open_spdy_connection(
            WebSocketByteStream(client_ws), client_side=True, linger=0
        ) as client:
            headers = [("port", "80"), ("requestID", "0")]
            error = await client.open_stream([("streamType", "error"), *headers])
            data = await client.open_stream([("streamType", "data"), *headers])
            await data.send_all(b"through the tunnel")
            await data.send_eof()
            received = b""
            while chunk := await data.receive_some():
                received += chunk
            assert received == b"through the tunnel"
            assert await error.receive_some() == b""
