"""The sans-IO session: stream life cycle, stream errors, session errors, pings, GOAWAY."""

from __future__ import annotations

import contextlib
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vk_trio.api.spdy import (
    SPDY3_DICTIONARY,
    DataFrame,
    DataReceived,
    Event,
    Frame,
    GoAwayFrame,
    GoAwayReceived,
    GoAwayStatus,
    HeadersFrame,
    HeadersReceived,
    PingAcknowledged,
    PingFrame,
    PingReceived,
    ProtocolError,
    RstStatus,
    RstStreamFrame,
    SessionConfig,
    Setting,
    SettingsFrame,
    SettingsId,
    SettingsReceived,
    SpdySession,
    StreamClosedError,
    StreamEnded,
    StreamOpened,
    StreamReplied,
    StreamReset,
    SynReplyFrame,
    SynStreamFrame,
    UnknownFrame,
    WindowUpdated,
    WindowUpdateFrame,
)

from .helpers import PREFACE, RawPeer, frames, new_session


def _pump(src: SpdySession, dst: SpdySession) -> list[Event]:
    return dst.receive_data(src.data_to_send())


def test_client_and_server_sessions_exchange_a_stream() -> None:
    client = new_session(client_side=True)
    server = new_session(client_side=False)
    sid = client.open_stream([("streamType", "stdin")])
    assert sid == 1
    assert _pump(client, server) == [StreamOpened(stream_id=1, headers=(("streamtype", "stdin"),))]
    server.send_reply(1, [("x", "y")])
    server.send_data(1, b"hello")
    assert _pump(server, client) == [
        StreamReplied(stream_id=1, headers=(("x", "y"),)),
        DataReceived(1, b"hello"),
    ]
    client.send_data(1, b"world", fin=True)
    assert _pump(client, server) == [DataReceived(1, b"world"), StreamEnded(1)]
    assert server.stream_state(1) is not None
    server.end_stream(1)
    assert _pump(server, client) == [StreamEnded(1)]
    # Both sides half-closed: the stream is gone on both ends.
    assert server.stream_state(1) is None
    assert client.stream_state(1) is None
    assert client.open_stream([]) == 3
    stats = server.statistics()
    assert stats.streams_opened_by_peer == 1
    assert stats.data_bytes_received == 5
    assert stats.data_bytes_sent == 5


def test_server_streams_are_even_and_fin_on_syn_frames() -> None:
    client = new_session(client_side=True)
    server = new_session(client_side=False)
    assert server.open_stream([("a", "b")], fin=True) == 2
    assert _pump(server, client) == [
        StreamOpened(stream_id=2, headers=(("a", "b"),)),
        StreamEnded(2),
    ]
    client.send_reply(2, fin=True)
    assert _pump(client, server) == [StreamReplied(stream_id=2, headers=()), StreamEnded(2)]
    assert server.stream_state(2) is None


def test_unidirectional_stream_is_half_closed_for_the_recipient() -> None:
    client = new_session(client_side=True)
    server = new_session(client_side=False)
    client.open_stream([], unidirectional=True)
    [opened] = _pump(client, server)
    assert isinstance(opened, StreamOpened) and opened.unidirectional
    with pytest.raises(StreamClosedError, match="closed for sending"):
        server.send_data(1, b"x")


def test_sending_data_before_reply_replies_implicitly() -> None:
    server = new_session(client_side=False)
    peer = RawPeer()
    server.receive_data(peer.encode(SynStreamFrame(stream_id=1, headers=())))
    server.send_data(1, b"out")
    assert peer.read(server) == [SynReplyFrame(stream_id=1, headers=()), DataFrame(1, b"out")]


def test_large_data_is_split_into_frames() -> None:
    server = new_session(client_side=False, config=SessionConfig(max_data_frame_size=4))
    peer = RawPeer()
    server.receive_data(peer.encode(SynStreamFrame(stream_id=1, headers=())))
    server.send_reply(1)
    server.send_data(1, b"abcdefghij", fin=True)
    assert peer.read(server)[1:] == [
        DataFrame(1, b"abcd"),
        DataFrame(1, b"efgh"),
        DataFrame(1, b"ij", fin=True),
    ]


# ---------------------------------------------------------------- stream errors


def _server_with_stream(*, fin: bool = False) -> tuple[SpdySession, RawPeer]:
    server = new_session(client_side=False)
    peer = RawPeer()
    server.receive_data(peer.encode(SynStreamFrame(stream_id=1, headers=(), fin=fin)))
    server.send_reply(1)
    peer.read(server)
    return server, peer


def test_data_on_an_unknown_stream_is_answered_with_invalid_stream() -> None:
    server, peer = _server_with_stream()
    assert server.receive_data(peer.encode(DataFrame(9, b"x"))) == []
    assert peer.read(server) == [RstStreamFrame(9, RstStatus.INVALID_STREAM)]


def test_data_on_a_closed_stream_is_answered_with_rst() -> None:
    server, peer = _server_with_stream()
    server.receive_data(peer.encode(DataFrame(1, b"", fin=True)))
    server.end_stream(1)
    peer.read(server)
    assert server.stream_state(1) is None
    assert server.receive_data(peer.encode(DataFrame(1, b"late"))) == []
    assert peer.read(server) == [RstStreamFrame(1, RstStatus.INVALID_STREAM)]


def test_data_after_the_peers_fin_resets_the_stream() -> None:
    server, peer = _server_with_stream(fin=True)
    events = server.receive_data(peer.encode(DataFrame(1, b"late")))
    assert events == [
        StreamReset(stream_id=1, status=RstStatus.STREAM_ALREADY_CLOSED, remote=False)
    ]
    assert peer.read(server) == [RstStreamFrame(1, RstStatus.STREAM_ALREADY_CLOSED)]
    with pytest.raises(StreamClosedError):
        server.send_data(1, b"x")


def test_identical_resets_are_coalesced() -> None:
    server, peer = _server_with_stream()
    server.receive_data(peer.encode(*(DataFrame(9, b"x") for _ in range(5)), DataFrame(11, b"y")))
    assert peer.read(server) == [
        RstStreamFrame(9, RstStatus.INVALID_STREAM),
        RstStreamFrame(11, RstStatus.INVALID_STREAM),
    ]


def test_data_before_syn_reply_on_our_stream_is_a_protocol_error() -> None:
    client = new_session(client_side=True)
    peer = RawPeer()
    client.open_stream([])
    peer.read(client)
    events = client.receive_data(peer.encode(DataFrame(1, b"early")))
    assert events == [StreamReset(stream_id=1, status=RstStatus.PROTOCOL_ERROR, remote=False)]
    assert peer.read(client) == [RstStreamFrame(1, RstStatus.PROTOCOL_ERROR)]


def test_second_syn_reply_is_stream_in_use() -> None:
    client = new_session(client_side=True)
    peer = RawPeer()
    client.open_stream([])
    peer.read(client)
    assert client.receive_data(peer.encode(SynReplyFrame(stream_id=1, headers=()))) == [
        StreamReplied(stream_id=1, headers=())
    ]
    events = client.receive_data(peer.encode(SynReplyFrame(stream_id=1, headers=())))
    assert events == [StreamReset(stream_id=1, status=RstStatus.STREAM_IN_USE, remote=False)]
    assert peer.read(client) == [RstStreamFrame(1, RstStatus.STREAM_IN_USE)]


def test_syn_reply_for_a_peer_stream_or_unknown_stream() -> None:
    server, peer = _server_with_stream()
    events = server.receive_data(peer.encode(SynReplyFrame(stream_id=1, headers=())))
    assert events == [StreamReset(stream_id=1, status=RstStatus.PROTOCOL_ERROR, remote=False)]
    server.receive_data(peer.encode(SynReplyFrame(stream_id=4, headers=())))
    assert peer.read(server) == [
        RstStreamFrame(1, RstStatus.PROTOCOL_ERROR),
        RstStreamFrame(4, RstStatus.INVALID_STREAM),
    ]


def test_headers_frames() -> None:
    server, peer = _server_with_stream()
    events = server.receive_data(
        peer.encode(HeadersFrame(stream_id=1, headers=(("k", "v"),), fin=True))
    )
    assert events == [HeadersReceived(stream_id=1, headers=(("k", "v"),)), StreamEnded(1)]
    events = server.receive_data(peer.encode(HeadersFrame(stream_id=1, headers=())))
    assert events == [
        StreamReset(stream_id=1, status=RstStatus.STREAM_ALREADY_CLOSED, remote=False)
    ]
    server.receive_data(peer.encode(HeadersFrame(stream_id=7, headers=())))
    assert peer.read(server) == [
        RstStreamFrame(1, RstStatus.STREAM_ALREADY_CLOSED),
        RstStreamFrame(7, RstStatus.INVALID_STREAM),
    ]
    server2, peer2 = _server_with_stream()
    server2.send_headers(1, [("late", "header")], fin=True)
    assert peer2.read(server2) == [
        HeadersFrame(stream_id=1, headers=(("late", "header"),), fin=True)
    ]


def test_duplicate_syn_stream_resets_the_stream() -> None:
    server, peer = _server_with_stream()
    events = server.receive_data(peer.encode(SynStreamFrame(stream_id=1, headers=())))
    assert events == [StreamReset(stream_id=1, status=RstStatus.PROTOCOL_ERROR, remote=False)]


def test_peer_reset_is_reported_and_unknown_resets_are_ignored() -> None:
    server, peer = _server_with_stream()
    events = server.receive_data(
        peer.encode(RstStreamFrame(1, RstStatus.CANCEL), RstStreamFrame(1, RstStatus.CANCEL))
    )
    assert events == [StreamReset(stream_id=1, status=RstStatus.CANCEL, remote=True)]
    assert peer.read(server) == []  # never answer a RST with a RST
    assert not server.reset_stream(1)


def test_local_reset() -> None:
    server, peer = _server_with_stream()
    assert server.reset_stream(1, RstStatus.INTERNAL_ERROR)
    assert peer.read(server) == [RstStreamFrame(1, RstStatus.INTERNAL_ERROR)]
    with pytest.raises(StreamClosedError) as info:
        server.send_data(1, b"x")
    assert info.value.stream_id == 1


def test_bad_header_block_on_syn_stream_resets_and_counts_the_id() -> None:
    server = new_session(client_side=False)
    # A valid zlib stream whose block holds one header with an empty name.
    compressor = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    block = compressor.compress(struct.pack(">III", 1, 0, 0)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = struct.pack(">IIII", 0x80030001, 10 + len(block), 3, 0) + b"\x00\x00" + block
    assert server.receive_data(frame) == []
    assert RawPeer().decoder.receive_data(server.data_to_send()) == [
        RstStreamFrame(3, RstStatus.PROTOCOL_ERROR)
    ]
    assert server.last_peer_stream_id == 3


def test_refuses_streams_beyond_the_concurrency_limit() -> None:
    server = new_session(client_side=False, config=SessionConfig(max_concurrent_streams=2))
    peer = RawPeer()
    events = server.receive_data(
        peer.encode(*(SynStreamFrame(stream_id=i, headers=()) for i in (1, 3, 5)))
    )
    assert [e.stream_id for e in events if isinstance(e, StreamOpened)] == [1, 3]
    assert peer.read(server) == [RstStreamFrame(5, RstStatus.REFUSED_STREAM)]
    server.reset_stream(1)
    events = server.receive_data(peer.encode(SynStreamFrame(stream_id=7, headers=())))
    assert events == [StreamOpened(stream_id=7, headers=())]


# ---------------------------------------------------------------- session errors


def test_stream_ids_going_backwards_is_a_session_error() -> None:
    server = new_session(client_side=False)
    peer = RawPeer()
    server.receive_data(peer.encode(SynStreamFrame(stream_id=5, headers=())))
    with pytest.raises(ProtocolError, match="not above"):
        server.receive_data(peer.encode(SynStreamFrame(stream_id=3, headers=())))
    assert peer.read(server) == [GoAwayFrame(5, GoAwayStatus.PROTOCOL_ERROR)]
    assert server.failed is not None
    with pytest.raises(ProtocolError):
        server.receive_data(b"")
    with pytest.raises(StreamClosedError):
        server.open_stream([])


def test_wrong_stream_id_parity_is_a_session_error() -> None:
    server = new_session(client_side=False)
    with pytest.raises(ProtocolError, match="parity"):
        server.receive_data(RawPeer().encode(SynStreamFrame(stream_id=2, headers=())))


def test_garbage_is_a_session_error_with_goaway() -> None:
    server = new_session(client_side=False)
    with pytest.raises(ProtocolError):
        server.receive_data(b"\x80\x07\x00\x01" + bytes(8))
    assert RawPeer().decoder.receive_data(server.data_to_send()) == [
        GoAwayFrame(0, GoAwayStatus.PROTOCOL_ERROR)
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_ever_raise_protocol_error(data: bytes) -> None:
    session = new_session(client_side=False)
    try:
        session.receive_data(data)
    except ProtocolError:
        assert session.failed is not None


# ---------------------------------------------------------------- pings, settings, windows


def test_pings() -> None:
    client = new_session(client_side=True)
    server = new_session(client_side=False)
    assert client.ping() == 1
    assert client.ping() == 3
    assert _pump(client, server) == [PingReceived(1), PingReceived(3)]
    assert _pump(server, client) == [PingAcknowledged(1), PingAcknowledged(3)]
    # An echo of a ping nobody sent, and a server-parity ping sent to the server, are ignored.
    peer = RawPeer()
    assert server.receive_data(peer.encode(PingFrame(8))) == []
    assert client.receive_data(RawPeer().encode(PingFrame(5))) == []
    assert server.ping() == 2


def test_settings_and_window_updates_are_reported() -> None:
    server, peer = _server_with_stream()
    events = server.receive_data(
        peer.encode(
            SettingsFrame(settings=(Setting(SettingsId.INITIAL_WINDOW_SIZE, 1000),)),
            WindowUpdateFrame(0, 10),
            WindowUpdateFrame(1, 20),
            UnknownFrame(10, 0, b""),
        )
    )
    assert events == [
        SettingsReceived(settings=(Setting(SettingsId.INITIAL_WINDOW_SIZE, 1000),), clear=False),
        WindowUpdated(0, 10),
        WindowUpdated(1, 20),
    ]
    server.send_settings([Setting(SettingsId.MAX_CONCURRENT_STREAMS, 10)])
    assert peer.read(server) == [
        SettingsFrame(settings=(Setting(SettingsId.MAX_CONCURRENT_STREAMS, 10),))
    ]


def test_receive_credit_is_granted_after_half_a_window() -> None:
    server = new_session(client_side=False, config=SessionConfig(initial_window_size=100))
    peer = RawPeer()
    server.receive_data(peer.encode(SynStreamFrame(stream_id=1, headers=())))
    server.send_reply(1)
    peer.read(server)
    server.acknowledge_received_data(1, 30)
    assert peer.read(server) == []
    server.acknowledge_received_data(1, 30)
    assert peer.read(server) == [WindowUpdateFrame(0, 60), WindowUpdateFrame(1, 60)]


def test_window_updates_can_be_disabled() -> None:
    server = new_session(
        client_side=False, config=SessionConfig(initial_window_size=10, send_window_updates=False)
    )
    server.acknowledge_received_data(1, 100)
    assert server.data_to_send() == b""


def test_sending_ignores_the_peers_window() -> None:
    # spdystream never grants credit; a sender that waited for it would hang forever.
    server, peer = _server_with_stream()
    server.send_data(1, bytes(200_000))
    assert sum(len(f.data) for f in peer.read(server) if isinstance(f, DataFrame)) == 200_000


# ---------------------------------------------------------------- GOAWAY


def test_goaway_received_refuses_our_unprocessed_streams() -> None:
    client = new_session(client_side=True)
    peer = RawPeer()
    for _ in range(3):
        client.open_stream([])
    events = client.receive_data(peer.encode(GoAwayFrame(3, GoAwayStatus.OK)))
    assert events == [
        GoAwayReceived(3, GoAwayStatus.OK),
        StreamReset(stream_id=5, status=RstStatus.REFUSED_STREAM, remote=True),
    ]
    assert client.goaway_received
    with pytest.raises(StreamClosedError, match="no new streams"):
        client.open_stream([])


def test_after_our_goaway_new_streams_are_ignored() -> None:
    server, peer = _server_with_stream()
    server.close()
    server.close()  # idempotent
    assert peer.read(server) == [GoAwayFrame(1, GoAwayStatus.OK)]
    assert server.receive_data(peer.encode(SynStreamFrame(stream_id=3, headers=()))) == []
    assert server.receive_data(peer.encode(DataFrame(3, b"x"))) == []
    assert peer.read(server) == []
    # Existing streams keep working.
    server.send_data(1, b"still here")
    assert peer.read(server) == [DataFrame(1, b"still here")]


def test_local_misuse() -> None:
    server, _peer = _server_with_stream()
    with pytest.raises(StreamClosedError, match="already replied"):
        server.send_reply(1)
    with pytest.raises(StreamClosedError, match="not open"):
        server.send_reply(99)
    client = new_session(client_side=True)
    sid = client.open_stream([])
    with pytest.raises(StreamClosedError, match="we opened"):
        client.send_reply(sid)
    with pytest.raises(ValueError):
        SessionConfig(max_data_frame_size=0)


def test_sessions_announce_a_large_receive_window_once() -> None:
    session = SpdySession(client_side=False)
    assert RawPeer().decoder.receive_data(session.data_to_send()) == PREFACE
    # The SPDY default window needs no announcement.
    quiet = SpdySession(client_side=True, config=SessionConfig(initial_window_size=65536))
    assert quiet.data_to_send() == b""
    # The Go peer ignores both frames; a peer that honours them learns the window.
    events = quiet.receive_data(SpdySession(client_side=False).data_to_send())
    assert events == [
        SettingsReceived(
            settings=(Setting(SettingsId.INITIAL_WINDOW_SIZE, 16 << 20),), clear=False
        ),
        WindowUpdated(0, (16 << 20) - 65536),
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(stream_ids=st.integers(1, 12)), max_size=25), st.booleans())
def test_any_frame_sequence_leaves_a_consistent_session(
    sequence: list[Frame], client_side: bool
) -> None:
    """Peers that send valid frames in any order: the session raises nothing but ProtocolError,
    everything it answers decodes, and it never answers a RST_STREAM with a RST_STREAM."""
    session = SpdySession(client_side=client_side)
    peer = RawPeer()
    try:
        for frame in sequence:
            session.receive_data(peer.encode(frame))
            answers = peer.read(session)
            if isinstance(frame, RstStreamFrame):
                assert not any(isinstance(a, RstStreamFrame) for a in answers)
            # The application may always poke any stream; misuse is a StreamClosedError.
            for stream_id in (1, 2, 3):
                with contextlib.suppress(StreamClosedError):
                    session.send_data(stream_id, b"x")
            peer.read(session)
    except ProtocolError:
        assert session.failed is not None
        assert any(isinstance(f, GoAwayFrame) for f in peer.read(session))
