"""A peer that floods PINGs and never reads cannot grow our memory (issue 13, finding 2).

Sans-IO: the session ends with GOAWAY once it holds more than ``max_queued_control_frames``
unsent control frames.  Over trio: the reader stops reading while the control frames waiting to
be sent are over ``write_buffer_size`` bytes, so the flooding client is the one that blocks."""

from __future__ import annotations

import tracemalloc

import pytest
import trio
import trio.testing

from vk_trio.api.spdy import (
    GoAwayFrame,
    PingFrame,
    ProtocolError,
    SessionConfig,
    open_spdy_connection,
)

from .helpers import RawPeer, new_session


def pings(peer: RawPeer, count: int, first: int = 1) -> bytes:
    # A client's pings have odd ids: the server echoes each one.
    return peer.encode(*(PingFrame(first + 2 * n) for n in range(count)))


def test_too_many_queued_control_frames_end_the_session_with_goaway() -> None:
    session = new_session(client_side=False, config=SessionConfig(max_queued_control_frames=100))
    peer = RawPeer()
    session.receive_data(pings(peer, 100))
    assert session.queued_control_frames == 100
    with pytest.raises(ProtocolError, match="control frames"):
        session.receive_data(pings(peer, 1, first=201))
    sent = peer.read(session)
    assert sent[-1] == GoAwayFrame(0, 2)  # INTERNAL_ERROR, last good stream 0
    assert sum(isinstance(f, PingFrame) for f in sent) == 101
    with pytest.raises(ProtocolError):
        session.receive_data(pings(peer, 1, first=203))


def test_a_peer_that_reads_its_echoes_may_ping_forever() -> None:
    session = new_session(client_side=False, config=SessionConfig(max_queued_control_frames=100))
    peer = RawPeer()
    for round_ in range(50):
        session.receive_data(pings(peer, 100, first=1 + 200 * round_))
        assert len(peer.read(session)) == 100
    assert session.failed is None


def test_the_default_cap_is_gos() -> None:
    session = new_session(client_side=False)
    peer = RawPeer()
    session.receive_data(pings(peer, 10_000))
    with pytest.raises(ProtocolError):
        session.receive_data(pings(peer, 1, first=20_001))


@pytest.mark.parametrize("cap", [10_000, 10**9])
async def test_a_ping_flood_that_never_reads_is_stopped_before_our_memory_grows(
    autojump_clock: trio.testing.MockClock, cap: int
) -> None:
    """With the default cap the session ends with GOAWAY after 10,000 unsent echoes; with no
    effective cap the reader's back-pressure blocks the flooder.  Either way what we hold is
    bounded by the write buffer plus the echoes of one read."""
    # Zero buffering between the two ends: what one sends the other must receive.
    client, server = trio.testing.lockstep_stream_pair()
    peer = RawPeer()
    chunk_pings = 1000
    write_buffer = 256 * 1024
    offered = 0
    tracemalloc.start()
    try:
        async with open_spdy_connection(
            server,
            idle_timeout=None,
            write_buffer_size=write_buffer,
            session_config=SessionConfig(max_queued_control_frames=cap),
            linger=0,
            close_timeout=1,
        ) as connection:
            with trio.move_on_after(30):  # virtual seconds: the flooder stops long before
                for n in range(4000):  # 4 M pings, 48 MB, if nothing pushed back
                    try:
                        await client.send_all(
                            pings(peer, chunk_pings, first=1 + 2 * chunk_pings * n)
                        )
                    except trio.BrokenResourceError:
                        break  # we closed the connection
                    offered += chunk_pings
            session = connection.session
            assert offered < 100_000
            held = session.outbound_size + connection._in_flight
            assert held <= write_buffer + 12 * chunk_pings + 64
            if cap == 10_000:
                assert connection.closed
                assert "control frames" in (connection.close_reason or "")
            else:
                assert session.failed is None  # back-pressure alone
            _, peak = tracemalloc.get_traced_memory()
            assert peak < 16 << 20
    finally:
        tracemalloc.stop()
