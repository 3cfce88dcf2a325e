"""port-forward over SPDY: data/error stream pairs, many per connection."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from vk_trio.api.spdy import (
    RstStatus,
    SpdyConnection,
    SpdyStream,
    StreamResetError,
    open_spdy_connection,
)
from vk_trio.api.streams import PortForwardStream, serve_spdy_port_forward

from .helpers import spdy_pair


async def _read_all(stream: SpdyStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


async def echo_handler(stream: PortForwardStream) -> None:
    """A stand-in for the provider: an echo server on every port, prefixed with the port."""
    await stream.data.send_all(f"port {stream.port}: ".encode())
    while data := await stream.data.receive_some():
        await stream.data.send_all(data)


async def _open_pair(
    client: SpdyConnection, port: str, request_id: str | None
) -> tuple[SpdyStream, SpdyStream]:
    extra = [("requestID", request_id)] if request_id is not None else []
    error = await client.open_stream([("streamType", "error"), ("port", port), *extra])
    data = await client.open_stream([("streamType", "data"), ("port", port), *extra])
    return error, data


async def test_pairs_are_forwarded_concurrently() -> None:
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(serve_spdy_port_forward, server, echo_handler)

        async def one_connection(port: int, request_id: str) -> None:
            error, data = await _open_pair(client, str(port), request_id)
            await error.send_eof()  # kubectl closes its side of the error stream at once
            await data.send_all(b"GET / HTTP/1.1\r\n\r\n")
            await data.send_eof()
            assert await _read_all(data) == f"port {port}: GET / HTTP/1.1\r\n\r\n".encode()
            assert await _read_all(error) == b""

        async with trio.open_nursery() as clients:
            for i, port in enumerate((8080, 8080, 9090)):
                clients.start_soon(one_connection, port, str(i))
        assert server.statistics().session.streams_opened_by_peer == 6
        await client.goaway()


async def test_request_id_falls_back_to_stream_ids() -> None:
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(serve_spdy_port_forward, server, echo_handler)
        _error, data = await _open_pair(client, "80", None)  # ids 1 and 3: pair "1"
        await data.send_eof()
        assert await _read_all(data) == b"port 80: "
        await client.goaway()


@pytest.mark.parametrize(
    "headers",
    [
        [("streamType", "data")],
        [("streamType", "data"), ("port", "http")],
        [("streamType", "data"), ("port", "70000")],
        [("streamType", "data"), ("port", "0")],
        [("port", "80")],
        [("streamType", "stdin"), ("port", "80")],
    ],
)
async def test_invalid_streams_are_reset_without_a_reply(headers: list[tuple[str, str]]) -> None:
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(serve_spdy_port_forward, server, echo_handler)
        with pytest.raises(StreamResetError) as info:
            await client.open_stream(headers)
        assert info.value.status == RstStatus.CANCEL
        await client.goaway()


async def test_duplicate_stream_in_a_pair_is_reported_on_its_error_stream() -> None:
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(serve_spdy_port_forward, server, echo_handler)
        error = await client.open_stream(
            [("streamType", "error"), ("port", "80"), ("requestID", "7")]
        )
        with pytest.raises(StreamResetError):
            second = await client.open_stream(
                [("streamType", "error"), ("port", "80"), ("requestID", "7")]
            )
            await second.receive_some()
        assert await error.receive_some() == (
            b"error processing stream for request 7: error stream already assigned"
        )
        await client.goaway()


async def test_incomplete_pair_times_out(autojump_clock: trio.testing.MockClock) -> None:
    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: serve_spdy_port_forward(server, echo_handler, creation_timeout=30)
        )
        error = await client.open_stream(
            [("streamType", "error"), ("port", "80"), ("requestID", "1")]
        )
        start = trio.current_time()
        message = await _read_all(error)
        assert trio.current_time() - start == pytest.approx(30)
        assert message.endswith(b", request=1) timed out waiting for streams")
        assert message.startswith(b"(conn=")
        await client.goaway()


async def test_handler_errors_are_reported_and_the_connection_survives() -> None:
    async def failing(stream: PortForwardStream) -> None:
        if stream.port == 1:
            raise ConnectionRefusedError("nothing listens on 1")
        await stream.write_error("custom message")

    async with spdy_pair() as (client, server), trio.open_nursery() as nursery:
        nursery.start_soon(serve_spdy_port_forward, server, failing)
        error, data = await _open_pair(client, "1", "a")
        assert await _read_all(error) == b"error forwarding port 1: nothing listens on 1"
        assert await _read_all(data) == b""
        error, _data = await _open_pair(client, "2", "b")
        assert await _read_all(error) == b"custom message"
        await client.goaway()


async def test_closing_the_connection_cancels_running_forwards() -> None:
    cancelled = trio.Event()

    async def forever(stream: PortForwardStream) -> None:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(server_transport, linger=0) as server:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_spdy_port_forward, server, forever)
            async with open_spdy_connection(client_transport, client_side=True, linger=0) as client:
                await _open_pair(client, "80", "x")
        assert cancelled.is_set()
