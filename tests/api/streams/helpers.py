"""Test doubles for the streams layer: an in-memory WebSocket pair and a SPDY client/server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

from vk_trio.api.spdy import SpdyConnection, open_spdy_connection
from vk_trio.api.streams import WebSocketClosed


class MemoryWebSocket:
    """One end of an in-memory WebSocket: messages keep their type (bytes or str)."""

    def __init__(
        self,
        send: trio.MemorySendChannel[bytes | str],
        receive: trio.MemoryReceiveChannel[bytes | str],
    ) -> None:
        self._send = send
        self._receive = receive
        self.sent: list[bytes | str] = []

    async def send_message(self, message: bytes | str) -> None:
        try:
            await self._send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise WebSocketClosed(1006) from None
        self.sent.append(message)

    async def receive_message(self) -> bytes | str:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise WebSocketClosed(1000) from None

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await self._send.aclose()
        await self._receive.aclose()


def memory_websocket_pair() -> tuple[MemoryWebSocket, MemoryWebSocket]:
    a_send, b_receive = trio.open_memory_channel[bytes | str](math.inf)
    b_send, a_receive = trio.open_memory_channel[bytes | str](math.inf)
    return MemoryWebSocket(a_send, a_receive), MemoryWebSocket(b_send, b_receive)


@asynccontextmanager
async def spdy_pair(
    **server_options: object,
) -> AsyncIterator[tuple[SpdyConnection, SpdyConnection]]:
    """A connected (client, server) pair of SPDY connections over memory streams."""
    client_transport, server_transport = trio.testing.memory_stream_pair()
    server_options.setdefault("linger", 0)
    async with (
        open_spdy_connection(server_transport, **server_options) as server,  # type: ignore[arg-type]
        open_spdy_connection(client_transport, client_side=True, linger=0) as client,
    ):
        yield client, server
