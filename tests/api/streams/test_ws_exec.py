"""exec/attach over every WebSocket channel subprotocol."""

from __future__ import annotations

import orjson
import pytest
import trio

from tests._waits import WAIT
from vk_trio.api.streams import (
    CHANNEL_ERROR,
    CHANNEL_RESIZE,
    CHANNEL_STDERR,
    CHANNEL_STDIN,
    CHANNEL_STDOUT,
    REMOTE_COMMAND_WEBSOCKET_PROTOCOLS,
    ChannelData,
    RemoteCommandOptions,
    RemoteCommandStreams,
    channel_protocol,
    decode_channel_message,
    encode_channel_message,
    encode_close_signal,
    open_websocket_remote_command,
    status_exit_code,
    status_for_error,
)
from vk_trio.provider import ContainerExitError, TermSize

from .helpers import MemoryWebSocket, memory_websocket_pair


class Client:
    """The client end: encodes and decodes channel messages with the protocol's framing."""

    def __init__(self, ws: MemoryWebSocket, subprotocol: str) -> None:
        self.ws = ws
        self.protocol = channel_protocol(subprotocol)

    async def send(self, channel: int, data: bytes) -> None:
        await self.ws.send_message(encode_channel_message(self.protocol, channel, data))

    async def receive(self) -> ChannelData:
        message = await self.ws.receive_message()
        assert isinstance(message, str) == self.protocol.base64
        decoded = decode_channel_message(self.protocol, message)
        assert isinstance(decoded, ChannelData)
        return decoded


async def _read_exactly(stream: trio.abc.ReceiveStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive_some(size - len(data))
    return data


@pytest.mark.parametrize("subprotocol", REMOTE_COMMAND_WEBSOCKET_PROTOCOLS)
async def test_exec_exchange_on_every_subprotocol(subprotocol: str) -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, subprotocol)
    options = RemoteCommandOptions(stdin=True, stdout=True, stderr=True)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            async with open_websocket_remote_command(server_ws, subprotocol, options) as streams:
                assert streams.stdin is not None and streams.stdout is not None
                assert streams.stderr is not None and streams.resize is None
                line = await _read_exactly(streams.stdin, 6)
                await streams.stdout.send_all(line.upper())
                await streams.stderr.send_all(b"oops\n")
                await streams.write_status(status_for_error(ContainerExitError(3)))

        nursery.start_soon(serve)
        # The "connected" signal: an empty message on stdout.
        assert await client.receive() == ChannelData(CHANNEL_STDOUT, b"")
        await client.send(CHANNEL_STDIN, b"hel")
        await client.send(CHANNEL_STDIN, b"lo\n")
        assert await client.receive() == ChannelData(CHANNEL_STDOUT, b"HELLO\n")
        assert await client.receive() == ChannelData(CHANNEL_STDERR, b"oops\n")
        error = await client.receive()
        assert error.channel == CHANNEL_ERROR
        if client.protocol.json_status:
            assert status_exit_code(orjson.loads(error.data)) == 3
        else:
            assert error.data == (
                b"command terminated with non-zero exit code: command exited with code 3"
            )


@pytest.mark.parametrize(
    ("options", "signal_channel"),
    [
        (RemoteCommandOptions(stdout=True, stderr=True), CHANNEL_STDOUT),
        (RemoteCommandOptions(stderr=True), CHANNEL_STDERR),
        (RemoteCommandOptions(stdin=True), CHANNEL_ERROR),
    ],
)
async def test_connected_signal_goes_to_the_lowest_output_channel(
    options: RemoteCommandOptions, signal_channel: int
) -> None:
    client_ws, server_ws = memory_websocket_pair()
    async with open_websocket_remote_command(server_ws, "v4.channel.k8s.io", options):
        assert await Client(client_ws, "v4.channel.k8s.io").receive() == ChannelData(
            signal_channel, b""
        )


async def test_v5_close_signal_ends_stdin_without_closing_the_websocket() -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, "v5.channel.k8s.io")
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            async with open_websocket_remote_command(server_ws, "v5.channel.k8s.io", options) as s:
                await cat(s)
                await s.write_status(status_for_error(None))

        nursery.start_soon(serve)
        await client.receive()
        await client.send(CHANNEL_STDIN, b"abc")
        await client_ws.send_message(encode_close_signal(CHANNEL_STDIN))
        assert await client.receive() == ChannelData(CHANNEL_STDOUT, b"abc")
        error = await client.receive()
        assert orjson.loads(error.data) == {"metadata": {}, "status": "Success"}


async def cat(streams: RemoteCommandStreams) -> None:
    assert streams.stdin is not None and streams.stdout is not None
    while data := await streams.stdin.receive_some():
        await streams.stdout.send_all(data)


async def test_stdin_ends_when_the_websocket_closes_and_wait_closed_fires() -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, "v4.channel.k8s.io")
    options = RemoteCommandOptions(stdin=True, stdout=True)
    finished = trio.Event()
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            async with open_websocket_remote_command(server_ws, "v4.channel.k8s.io", options) as s:
                await cat(s)
                with trio.fail_after(WAIT):
                    await s.wait_closed()
                # Writing the status to a closed WebSocket is not an error for the handler.
                await s.write_status(status_for_error(None))
            finished.set()

        nursery.start_soon(serve)
        await client.receive()
        await client.send(CHANNEL_STDIN, b"bye")
        assert await client.receive() == ChannelData(CHANNEL_STDOUT, b"bye")
        await client_ws.aclose()
    assert finished.is_set()


async def test_tty_resize_events() -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, "v4.base64.channel.k8s.io")
    options = RemoteCommandOptions(stdin=True, stdout=True, tty=True)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            async with open_websocket_remote_command(
                server_ws, "v4.base64.channel.k8s.io", options
            ) as s:
                io = s.attach_io()
                assert io.tty and io.resize is not None
                sizes = [await io.resize.receive(), await io.resize.receive()]
                assert io.stdout is not None
                await io.stdout.send_all(repr(sizes).encode())

        nursery.start_soon(serve)
        await client.receive()
        await client.send(CHANNEL_RESIZE, b'{"Width":100,"Height":50}')
        await client.send(CHANNEL_RESIZE, b'{"Width":101,"Height":51}')
        assert (await client.receive()).data == repr(
            [TermSize(100, 50), TermSize(101, 51)]
        ).encode()


async def test_unrequested_and_malformed_input_is_dropped() -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, "base64.channel.k8s.io")
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            async with open_websocket_remote_command(
                server_ws, "base64.channel.k8s.io", options
            ) as s:
                assert s.stdin is not None and s.stdout is not None
                await s.stdout.send_all(await s.stdin.receive_some())

        nursery.start_soon(serve)
        await client.receive()
        await client.send(7, b"nobody listens on 7")
        await client_ws.send_message("0!!not base64!!")
        await client_ws.send_message("")
        await client.send(CHANNEL_STDIN, b"good")
        assert await client.receive() == ChannelData(CHANNEL_STDOUT, b"good")


async def test_malformed_close_signal_ends_the_input() -> None:
    client_ws, server_ws = memory_websocket_pair()
    options = RemoteCommandOptions(stdin=True, stdout=True)
    async with open_websocket_remote_command(server_ws, "v5.channel.k8s.io", options) as s:
        await client_ws.send_message(b"\xff\x00\x00")
        assert s.stdin is not None
        assert await s.stdin.receive_some() == b""
        with trio.fail_after(WAIT):
            await s.wait_closed()


async def test_large_output_is_split_into_messages() -> None:
    client_ws, server_ws = memory_websocket_pair()
    client = Client(client_ws, "v4.channel.k8s.io")
    payload = bytes(range(256)) * 3000
    async with open_websocket_remote_command(
        server_ws, "v4.channel.k8s.io", RemoteCommandOptions(stdout=True)
    ) as s:
        assert s.stdout is not None
        await s.stdout.send_all(payload)
    await client.receive()
    received = b""
    while len(received) < len(payload):
        message = await client.receive()
        assert len(message.data) <= 256 * 1024
        received += message.data
    assert received == payload
