"""The WebSocket adapters: ASGI ``receive``/``send`` and trio-websocket."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from vk_trio.api.streams import AsgiWebSocket, TrioWebSocket, WebSocketClosed


async def test_asgi_adapter() -> None:
    inbound: list[dict[str, Any]] = [
        {"type": "websocket.receive", "bytes": b"\x00hi"},
        {"type": "websocket.receive", "text": "1Cg=="},
        {"type": "websocket.disconnect", "code": 1001},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return inbound.pop(0)

    async def send(message: dict[str, Any]) -> None:
        await trio.lowlevel.checkpoint()
        sent.append(dict(message))

    ws = AsgiWebSocket(receive, send)
    assert await ws.receive_message() == b"\x00hi"
    assert await ws.receive_message() == "1Cg=="
    with pytest.raises(WebSocketClosed) as info:
        await ws.receive_message()
    assert info.value.code == 1001
    with pytest.raises(WebSocketClosed):
        await ws.send_message(b"late")

    ws = AsgiWebSocket(receive, send)
    await ws.send_message(b"\x01out")
    await ws.send_message("1b3V0")
    await ws.aclose(1000)
    await ws.aclose(1000)
    assert sent == [
        {"type": "websocket.send", "bytes": b"\x01out"},
        {"type": "websocket.send", "text": "1b3V0"},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]


async def test_asgi_adapter_maps_send_failures() -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")

    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("client went away")

    ws = AsgiWebSocket(receive, send)
    with pytest.raises(WebSocketClosed, match="client went away"):
        await ws.send_message(b"x")


async def test_trio_websocket_adapter() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:

        async def server() -> None:
            request = await trio_websocket.wrap_server_stream(nursery, server_stream)
            assert request.proposed_subprotocols == ("v4.channel.k8s.io",)
            ws = TrioWebSocket(await request.accept(subprotocol="v4.channel.k8s.io"))
            await ws.send_message(await ws.receive_message())
            await ws.send_message("text too")
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive_message()
            assert info.value.code == 1000
            with pytest.raises(WebSocketClosed):
                await ws.send_message(b"late")
            await ws.aclose()

        nursery.start_soon(server)
        client = await trio_websocket.wrap_client_stream(
            nursery,
            client_stream,  # type: ignore[arg-type]  # any trio stream works
            "localhost",
            "/exec",
            subprotocols=["v4.channel.k8s.io"],
        )
        assert client.subprotocol == "v4.channel.k8s.io"
        await client.send_message(b"\x00ping")
        assert await client.get_message() == b"\x00ping"
        assert await client.get_message() == "text too"
        await client.aclose(1000)
