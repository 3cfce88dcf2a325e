"""port-forward over WebSocket: two channels per port, each opened by the port number."""

from __future__ import annotations

import pytest
import trio

from vk_trio.api.streams import (
    ChannelData,
    PortForwardStream,
    WebSocketClosed,
    channel_protocol,
    decode_channel_message,
    encode_channel_message,
    parse_port_forward_ports,
    serve_websocket_port_forward,
)

from .helpers import memory_websocket_pair


async def echo_handler(stream: PortForwardStream) -> None:
    while data := await stream.data.receive_some():
        await stream.data.send_all(data)


@pytest.mark.parametrize("subprotocol", ["v4.channel.k8s.io", "v4.base64.channel.k8s.io", ""])
async def test_two_ports_with_port_prefixes(subprotocol: str) -> None:
    protocol = channel_protocol(subprotocol)
    client_ws, server_ws = memory_websocket_pair()

    async def receive() -> ChannelData:
        decoded = decode_channel_message(protocol, await client_ws.receive_message())
        assert isinstance(decoded, ChannelData)
        return decoded

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            serve_websocket_port_forward, server_ws, subprotocol, [80, 8080], echo_handler
        )
        prefixes = {(await receive()) for _ in range(4)}
        assert prefixes == {
            ChannelData(0, b"\x50\x00"),
            ChannelData(1, b"\x50\x00"),
            ChannelData(2, b"\x90\x1f"),
            ChannelData(3, b"\x90\x1f"),
        }
        await client_ws.send_message(encode_channel_message(protocol, 2, b"to 8080"))
        assert await receive() == ChannelData(2, b"to 8080")
        await client_ws.send_message(encode_channel_message(protocol, 0, b"to 80"))
        assert await receive() == ChannelData(0, b"to 80")
        # Closing the WebSocket ends every data stream, and so every handler.
        await client_ws.aclose()


async def test_handler_errors_go_to_the_error_channel() -> None:
    protocol = channel_protocol("v4.channel.k8s.io")
    client_ws, server_ws = memory_websocket_pair()

    async def refuse(stream: PortForwardStream) -> None:
        raise ConnectionRefusedError(f"connection refused on {stream.port}")

    await serve_websocket_port_forward(server_ws, "v4.channel.k8s.io", [5432], refuse)
    await server_ws.aclose()
    received = []
    with pytest.raises(WebSocketClosed):
        while True:
            received.append(decode_channel_message(protocol, await client_ws.receive_message()))
    assert received == [
        ChannelData(0, b"\x38\x15"),
        ChannelData(1, b"\x38\x15"),
        ChannelData(1, b"error forwarding port 5432: connection refused on 5432"),
    ]


@pytest.mark.parametrize(
    ("values", "result"),
    [
        (["80"], [80]),
        (["80,443", "8080"], [80, 443, 8080]),
        ([], 'query parameter "port" is required'),
        ([""], 'query parameter "port" cannot be empty'),
        (
            ["http"],
            'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax',
        ),
        (
            ["80,99999"],
            'unable to parse "80,99999" as a port: strconv.ParseUint: parsing "99999": '
            "value out of range",
        ),
        (["0"], 'port "0" must be > 0'),
    ],
)
def test_port_parsing(values: list[str], result: list[int] | str) -> None:
    if isinstance(result, list):
        assert parse_port_forward_ports(values) == result
    else:
        with pytest.raises(ValueError) as info:
            parse_port_forward_ports(values)
        assert str(info.value) == result
