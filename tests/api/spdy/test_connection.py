"""The trio adapter over in-memory streams: our own client session against our server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._waits import WAIT
from vk_trio.api.spdy import (
    DataFrame,
    Frame,
    GoAwayFrame,
    GoAwayStatus,
    RstStatus,
    RstStreamFrame,
    SpdyConnection,
    SpdyConnectionClosed,
    SpdyStream,
    StreamResetError,
    SynReplyFrame,
    SynStreamFrame,
    open_spdy_connection,
)

from .helpers import PREFACE, RawPeer, without_preface


@asynccontextmanager
async def connected_pair(
    **server_options: object,
) -> AsyncIterator[tuple[SpdyConnection, SpdyConnection]]:
    client_transport, server_transport = trio.testing.memory_stream_pair()
    server_options.setdefault("linger", 0)
    async with (
        open_spdy_connection(server_transport, **server_options) as server,  # type: ignore[arg-type]
        open_spdy_connection(client_transport, client_side=True, linger=0) as client,
    ):
        yield client, server


async def _open_accepted(
    client: SpdyConnection, server: SpdyConnection, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[SpdyStream, SpdyStream]:
    async with trio.open_nursery() as nursery:
        accepted: list[SpdyStream] = []

        async def accept() -> None:
            stream = await server.accept_stream()
            await stream.reply()
            accepted.append(stream)

        nursery.start_soon(accept)
        opened = await client.open_stream(headers)
    return opened, accepted[0]


async def test_echo_over_one_stream() -> None:
    async with connected_pair() as (client, server):
        c, s = await _open_accepted(client, server, (("streamType", "stdin"),))
        assert s.header("StreamType") == "stdin"
        assert s.stream_id == c.stream_id == 1
        await c.send_all(b"hello ")
        await c.send_all(b"world")
        await c.send_eof()
        received = b""
        while chunk := await s.receive_some():
            received += chunk
        assert received == b"hello world"
        await s.send_all(received.upper())
        await s.send_eof()
        assert await c.receive_some() == b"HELLO WORLD"
        assert await c.receive_some() == b""
        assert client.session.stream_state(1) is None
        assert server.statistics().session.streams_opened_by_peer == 1


async def test_generic_half_closeable_stream_semantics() -> None:
    async with trio.open_nursery() as nursery:

        async def maker() -> tuple[SpdyStream, SpdyStream]:
            async def hold(task_status: trio.TaskStatus[tuple[SpdyStream, SpdyStream]]) -> None:
                async with connected_pair() as (client, server):
                    task_status.started(await _open_accepted(client, server))
                    await trio.sleep_forever()

            pair: tuple[SpdyStream, SpdyStream] = await nursery.start(hold)
            return pair

        await trio.testing.check_half_closeable_stream(maker, None)
        nursery.cancel_scope.cancel()


async def test_initial_data_from_the_front_door_is_processed_first() -> None:
    peer = RawPeer()
    wire = peer.encode(
        SynStreamFrame(stream_id=1, headers=(("streamtype", "data"),)),
        DataFrame(1, b"pipelined", fin=True),
    )
    split = len(wire) - 4
    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(
        server_transport, initial_data=wire[:split], linger=0
    ) as server:
        await client_transport.send_all(wire[split:])
        stream = await server.accept_stream()
        assert stream.header("streamtype") == "data"
        received = b""
        while chunk := await stream.receive_some():
            received += chunk
        assert received == b"pipelined"
        await stream.reply()
        got = await _frames_until(peer, client_transport, 3)
        assert without_preface(got) == [SynReplyFrame(stream_id=1, headers=())]


async def test_pings_both_ways() -> None:
    async with connected_pair() as (client, server):
        assert await client.ping() >= 0
        assert await server.ping() >= 0
        assert server.session.statistics().goaway_sent is False


async def test_peer_reset_is_raised_on_the_stream() -> None:
    async with connected_pair() as (client, server):
        c, s = await _open_accepted(client, server)
        await c.reset(RstStatus.CANCEL)
        with pytest.raises(StreamResetError) as info:
            await s.receive_some()
        assert info.value.status == RstStatus.CANCEL and info.value.remote
        assert s.reset_status == RstStatus.CANCEL
        with pytest.raises(StreamResetError):
            await s.send_all(b"x")
        with pytest.raises(trio.ClosedResourceError):
            await c.send_all(b"x")


async def test_rejecting_a_stream_with_reset_fails_the_openers_wait() -> None:
    async with connected_pair() as (client, server), trio.open_nursery() as nursery:

        async def reject() -> None:
            stream = await server.accept_stream()
            await stream.reset(RstStatus.REFUSED_STREAM)

        nursery.start_soon(reject)
        with pytest.raises(StreamResetError) as info:
            await client.open_stream([("port", "0")])
        assert info.value.status == RstStatus.REFUSED_STREAM


async def test_closing_the_connection_ends_open_streams_and_accept() -> None:
    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(server_transport, linger=0) as server:
        async with open_spdy_connection(client_transport, client_side=True, linger=0) as client:
            _, s = await _open_accepted(client, server)
        await server.wait_closed()
        with pytest.raises(SpdyConnectionClosed):
            await server.accept_stream()
        with pytest.raises(trio.BrokenResourceError):
            await s.receive_some()
        with pytest.raises(trio.BrokenResourceError):
            await s.send_all(b"late")
        assert server.closed


async def test_goaway_from_peer_is_seen_by_wait_peer_gone() -> None:
    async with connected_pair() as (client, server):
        await client.goaway()
        with trio.fail_after(WAIT):
            await server.wait_peer_gone()
        assert not server.closed
        assert server.session.goaway_received
        with pytest.raises(SpdyConnectionClosed):
            await server.accept_stream()
        with pytest.raises(SpdyConnectionClosed):
            await client.open_stream([])


async def test_protocol_error_sends_goaway_and_closes() -> None:
    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(server_transport, linger=0) as server:
        await client_transport.send_all(b"\x80\x02\x00\x01" + bytes(12))  # SPDY/2: unsupported
        with trio.fail_after(WAIT):
            await server.wait_closed()
        assert server.closed
        assert server.close_reason is not None and "version 2" in server.close_reason
        got = await _frames_until(RawPeer(), client_transport, 3)
        assert without_preface(got) == [GoAwayFrame(0, GoAwayStatus.PROTOCOL_ERROR)]


async def test_idle_timeout_closes_the_connection(autojump_clock: trio.testing.MockClock) -> None:
    async with connected_pair(idle_timeout=30) as (client, server):
        await trio.sleep(20)
        await client.ping()  # activity pushes the deadline
        await trio.sleep(20)
        assert not server.closed
        start = trio.current_time()
        await server.wait_closed()
        assert server.close_reason == "idle timeout"
        assert 9 <= trio.current_time() - start <= 11
        await client.wait_closed()


async def test_streams_beyond_the_accept_backlog_are_refused() -> None:
    peer = RawPeer()
    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(server_transport, max_pending_streams=2, linger=0) as server:
        await client_transport.send_all(
            peer.encode(*(SynStreamFrame(stream_id=i, headers=()) for i in (1, 3, 5)))
        )
        await trio.testing.wait_all_tasks_blocked()
        first = await server.accept_stream()
        assert first.stream_id == 1
        got = await _frames_until(peer, client_transport, 3)
        assert without_preface(got) == [RstStreamFrame(5, RstStatus.REFUSED_STREAM)]
        assert server.statistics().pending_accept == 1


async def test_a_slow_reader_applies_back_pressure_without_losing_data() -> None:
    payload = bytes(range(256)) * 2000  # 512 KB
    async with connected_pair(max_stream_buffer=16 * 1024) as (client, server):
        c, s = await _open_accepted(client, server)
        async with trio.open_nursery() as nursery:

            async def send() -> None:
                for offset in range(0, len(payload), 10_000):
                    await c.send_all(payload[offset : offset + 10_000])
                await c.send_eof()

            nursery.start_soon(send)
            await trio.testing.wait_all_tasks_blocked()
            # The reader stopped reading the socket: far less than everything is buffered.
            assert s.buffered < 16 * 1024 + 64 * 1024
            received = bytearray()
            while chunk := await s.receive_some(4096):
                received += chunk
        assert received == payload


async def test_closed_stream_discards_incoming_data_and_resets_the_sender() -> None:
    async with connected_pair() as (client, server):
        c, s = await _open_accepted(client, server)
        await c.send_all(b"unread")
        await s.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await s.receive_some()
        with pytest.raises(StreamResetError):
            while True:
                await c.send_all(b"more")
                await trio.lowlevel.checkpoint()


async def test_close_after_the_peer_finished_is_a_graceful_fin() -> None:
    async with connected_pair() as (client, server):
        c, s = await _open_accepted(client, server)
        await c.send_eof()
        assert await s.receive_some() == b""
        await s.aclose()
        assert await c.receive_some() == b""
        assert s.reset_status is None


async def test_unidirectional_and_headers_frames_from_a_raw_peer() -> None:
    peer = RawPeer()
    client_transport, server_transport = trio.testing.memory_stream_pair()
    async with open_spdy_connection(server_transport, linger=0) as server:
        await client_transport.send_all(
            peer.encode(SynStreamFrame(stream_id=1, headers=(), unidirectional=True))
        )
        stream = await server.accept_stream()
        with pytest.raises(trio.ClosedResourceError):
            await stream.send_all(b"not allowed")


async def _frames_until(
    peer: RawPeer, transport: trio.abc.ReceiveStream, count: int
) -> list[Frame]:
    """Read from ``transport`` until ``count`` frames have been decoded."""
    frames: list[Frame] = []
    while len(frames) < count:
        frames += peer.decoder.receive_data(await transport.receive_some())
    return frames


ServerHandler = Callable[[SpdyStream], Awaitable[None]]


async def test_many_streams_in_parallel() -> None:
    async with connected_pair() as (client, server):

        async def serve() -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    stream = await server.accept_stream()
                    nursery.start_soon(echo, stream)

        async def echo(stream: SpdyStream) -> None:
            await stream.reply()
            while data := await stream.receive_some():
                await stream.send_all(data)
            await stream.send_eof()

        async def run_client(i: int) -> None:
            stream = await client.open_stream([("n", str(i))])
            message = f"message {i} ".encode() * 100
            await stream.send_all(message)
            await stream.send_eof()
            got = b""
            while data := await stream.receive_some():
                got += data
            assert got == message

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            for i in range(20):
                nursery.start_soon(run_client, i)


async def test_closing_lingers_until_the_peer_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    peer = RawPeer()
    client_transport, server_transport = trio.testing.memory_stream_pair()
    start = trio.current_time()
    async with open_spdy_connection(server_transport, linger=3):
        pass
    # Nobody closed the other end: the full linger time passed, and GOAWAY went out first.
    assert trio.current_time() - start == pytest.approx(3)
    assert await _frames_until(peer, client_transport, 3) == [
        *PREFACE,
        GoAwayFrame(0, GoAwayStatus.OK),
    ]

    client_transport, server_transport = trio.testing.memory_stream_pair()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:

        async def close_on_goaway() -> None:
            await client_transport.receive_some()
            await client_transport.aclose()

        nursery.start_soon(close_on_goaway)
        async with open_spdy_connection(server_transport, linger=3):
            pass
    assert trio.current_time() - start < 1


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_from_the_peer_end_the_connection_cleanly(data: bytes, close: bool) -> None:
    """Garbage (or a valid prefix of anything) never escapes as an exception and never hangs:
    the connection either keeps waiting for more or closes, and leaving it always works."""

    async def main() -> None:
        client_transport, server_transport = trio.testing.memory_stream_pair()
        with trio.fail_after(60):
            async with open_spdy_connection(server_transport, idle_timeout=10) as server:
                await client_transport.send_all(data)
                if close:
                    await client_transport.aclose()
                await trio.testing.wait_all_tasks_blocked()
                with trio.move_on_after(1):
                    while True:
                        stream = await server.accept_stream()
                        await stream.reply()
            assert server.closed

    with contextlib.suppress(SpdyConnectionClosed):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_exceptions_of_the_body_are_not_wrapped_in_groups() -> None:
    client_transport, server_transport = trio.testing.memory_stream_pair()
    with pytest.raises(KeyError):
        async with open_spdy_connection(server_transport, linger=0):
            raise KeyError("from the handler")
    await client_transport.aclose()
