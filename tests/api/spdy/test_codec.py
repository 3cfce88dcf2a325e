"""Frame codec: round trips, split deliveries, limits and malformed input."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vk_trio.api.spdy import (
    MAX_STREAM_ID,
    SPDY3_DICTIONARY,
    BadHeaderBlock,
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    FrameType,
    GoAwayFrame,
    GoAwayStatus,
    HeadersFrame,
    PingFrame,
    ProtocolError,
    RstStatus,
    RstStreamFrame,
    Setting,
    SettingsFrame,
    SettingsId,
    SynReplyFrame,
    SynStreamFrame,
    UnknownFrame,
    WindowUpdateFrame,
)

from .helpers import coalesce, frames

EVERY_FRAME_TYPE: list[Frame] = [
    SynStreamFrame(
        stream_id=1,
        associated_stream_id=0,
        priority=3,
        slot=0,
        headers=(("streamtype", "error"), ("port", "8080"), ("requestid", "0")),
    ),
    SynStreamFrame(
        stream_id=3, headers=(("streamtype", "stdin"),), fin=True, unidirectional=True, priority=7
    ),
    SynReplyFrame(stream_id=1, headers=()),
    SynReplyFrame(stream_id=3, headers=(("x-a", "1"), ("x-a", "2")), fin=True),
    DataFrame(1, b"hello"),
    DataFrame(1, b"", fin=True),
    DataFrame(MAX_STREAM_ID, bytes(range(256)) * 40),
    RstStreamFrame(5, RstStatus.CANCEL),
    SettingsFrame(
        settings=(
            Setting(SettingsId.MAX_CONCURRENT_STREAMS, 100),
            Setting(SettingsId.INITIAL_WINDOW_SIZE, 1 << 20, flags=1),
        ),
        clear=True,
    ),
    SettingsFrame(),
    PingFrame(1),
    PingFrame(0xFFFFFFFF),
    GoAwayFrame(7, GoAwayStatus.PROTOCOL_ERROR),
    HeadersFrame(stream_id=1, headers=(("trailer", "value"),), fin=True),
    WindowUpdateFrame(0, 65536),
    WindowUpdateFrame(9, MAX_STREAM_ID),
    UnknownFrame(10, 0, b"credential"),
]


def _encode_all(frames: list[Frame]) -> bytes:
    encoder = FrameEncoder()
    return b"".join(encoder.encode(frame) for frame in frames)


def test_every_frame_type_round_trips_in_one_delivery() -> None:
    wire = _encode_all(EVERY_FRAME_TYPE)
    assert FrameDecoder().receive_data(wire) == EVERY_FRAME_TYPE


def test_every_frame_type_round_trips_byte_by_byte() -> None:
    wire = _encode_all(EVERY_FRAME_TYPE)
    decoder = FrameDecoder()
    got: list[Frame] = []
    for i in range(len(wire)):
        got += decoder.receive_data(wire[i : i + 1])
    assert decoder.buffered == 0
    assert coalesce(got) == coalesce(EVERY_FRAME_TYPE)


def test_data_payload_is_passed_on_before_the_frame_is_complete() -> None:
    wire = FrameEncoder().encode(DataFrame(3, b"abcdef", fin=True))
    decoder = FrameDecoder()
    assert decoder.receive_data(wire[:10]) == [DataFrame(3, b"ab", False)]
    assert decoder.receive_data(wire[10:]) == [DataFrame(3, b"cdef", True)]


def test_wire_layout_of_a_data_frame() -> None:
    wire = FrameEncoder().encode(DataFrame(5, b"xyz", fin=True))
    assert wire == struct.pack(">II", 5, (1 << 24) | 3) + b"xyz"


def test_wire_layout_of_fixed_size_control_frames() -> None:
    enc = FrameEncoder()
    assert enc.encode(PingFrame(2)) == bytes.fromhex("80030006 00000004 00000002")
    assert enc.encode(RstStreamFrame(3, 5)) == bytes.fromhex("80030003 00000008 00000003 00000005")
    assert enc.encode(GoAwayFrame(1, 0)) == bytes.fromhex("80030007 00000008 00000001 00000000")
    assert enc.encode(WindowUpdateFrame(1, 10)) == bytes.fromhex(
        "80030009 00000008 00000001 0000000a"
    )


# ---------------------------------------------------------------- zlib interoperability


def _go_style_block(compressor: zlib._Compress, pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A header block built independently of our encoder, compressed the way Go's spdy framer
    does it: best compression, SPDY dictionary, one sync flush per block."""
    raw = struct.pack(">I", len(pairs))
    for name, value in pairs:
        raw += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
    return compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)


def test_dictionary_is_the_spdy3_table() -> None:
    assert len(SPDY3_DICTIONARY) == 1423
    assert zlib.adler32(SPDY3_DICTIONARY) == 0xE3C6A7C2
    assert SPDY3_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert SPDY3_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_decodes_header_blocks_compressed_like_a_go_peer() -> None:
    go = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, SPDY3_DICTIONARY)
    first = _go_style_block(go, [(b"streamtype", b"stdin")])
    second = _go_style_block(go, [(b"streamtype", b"stdout"), (b"x-multi", b"a\x00b")])
    wire = (
        struct.pack(">IIII", 0x80030001, 10 + len(first), 1, 0)
        + b"\x00\x00"
        + first
        + struct.pack(">III", 0x80030001, 10 + len(second), 3)
        + struct.pack(">I", 0)
        + b"\x00\x00"
        + second
    )
    frames = FrameDecoder().receive_data(wire)
    assert frames == [
        SynStreamFrame(stream_id=1, headers=(("streamtype", "stdin"),)),
        SynStreamFrame(
            stream_id=3,
            headers=(("streamtype", "stdout"), ("x-multi", "a"), ("x-multi", "b")),
        ),
    ]


def test_our_header_blocks_inflate_with_a_plain_zlib_reader() -> None:
    enc = FrameEncoder()
    wires = [
        enc.encode(SynReplyFrame(stream_id=1, headers=())),
        enc.encode(HeadersFrame(stream_id=1, headers=(("Status", "200"), ("a", "1"), ("a", "2")))),
    ]
    inflater = zlib.decompressobj(zdict=SPDY3_DICTIONARY)
    blocks = []
    for wire in wires:
        compressed = wire[12:]
        # Every block ends on a sync-flush boundary, so a Go reader limited to the frame's
        # length consumes exactly the frame (spdystream checks that it does).
        assert compressed.endswith(b"\x00\x00\xff\xff")
        blocks.append(inflater.decompress(compressed))
    # The zlib header carries the dictionary's id: the peer must know the same dictionary.
    assert wires[0][12:18][2:] == zlib.adler32(SPDY3_DICTIONARY).to_bytes(4, "big")
    assert blocks[0] == struct.pack(">I", 0)
    assert blocks[1] == (
        struct.pack(">I", 2)
        + struct.pack(">I", 6)
        + b"status"
        + struct.pack(">I", 3)
        + b"200"
        + struct.pack(">I", 1)
        + b"a"
        + struct.pack(">I", 3)
        + b"1\x002"
    )


def test_a_block_with_the_wrong_dictionary_is_a_session_error() -> None:
    other = zlib.compressobj(zdict=b"not the spdy dictionary")
    block = other.compress(struct.pack(">I", 0)) + other.flush(zlib.Z_SYNC_FLUSH)
    wire = struct.pack(">III", 0x80030002, 4 + len(block), 1) + block
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError, match="decompress"):
        decoder.receive_data(wire)
    # The decoder stays failed: later bytes cannot be trusted.
    with pytest.raises(ProtocolError):
        decoder.receive_data(FrameEncoder().encode(PingFrame(1)))


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (bytes.fromhex("80020006 00000004 00000001"), "version 2"),
        (bytes.fromhex("80030006 00000005 0000000100"), "PING of length 5"),
        (bytes.fromhex("80030003 00000004 00000001"), "RST_STREAM of length 4"),
        (bytes.fromhex("80030003 00000008 00000000 00000001"), "RST_STREAM on stream 0"),
        (bytes.fromhex("80030007 00000004 00000001"), "GOAWAY of length 4"),
        (bytes.fromhex("80030009 00000004 00000001"), "WINDOW_UPDATE of length 4"),
        (bytes.fromhex("80030004 00000004 00000001"), "SETTINGS with 1 entries"),
        (bytes.fromhex("80030004 00000002 0000"), "SETTINGS shorter"),
        (bytes.fromhex("80030001 00000004 00000001"), "SYN_STREAM shorter"),
        (bytes.fromhex("80030002 00000002 0000"), "SYN_REPLY shorter"),
        (bytes.fromhex("80030008 00000002 0000"), "HEADERS shorter"),
        (bytes.fromhex("00000000 00000001 00"), "DATA frame on stream 0"),
        (bytes.fromhex("80030001 00200000"), "exceeds the limit"),
    ],
)
def test_malformed_frames_are_session_errors(wire: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        FrameDecoder().receive_data(wire)


def test_header_frames_on_stream_zero_are_session_errors() -> None:
    wire = FrameEncoder().encode(SynReplyFrame(stream_id=1, headers=()))
    wire = wire[:8] + b"\x00\x00\x00\x00" + wire[12:]
    with pytest.raises(ProtocolError, match="SYN_REPLY on stream 0"):
        FrameDecoder().receive_data(wire)


def _raw_block_frame(frame_type: int, stream_id: int, raw_block: bytes) -> bytes:
    compressor = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    block = compressor.compress(raw_block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    if frame_type == FrameType.SYN_STREAM:
        body = struct.pack(">II", stream_id, 0) + b"\x00\x00" + block
    else:
        body = struct.pack(">I", stream_id) + block
    return struct.pack(">II", 0x80030000 | frame_type, len(body)) + body


@pytest.mark.parametrize(
    ("raw_block", "reason"),
    [
        (struct.pack(">II", 1, 0) + struct.pack(">I", 0), "empty header name"),
        (
            struct.pack(">II", 2, 1)
            + b"a"
            + struct.pack(">I", 0)
            + struct.pack(">I", 1)
            + b"a"
            + struct.pack(">I", 0),
            "duplicate",
        ),
        (struct.pack(">III", 1, 5, 0), "claims 1 pairs|truncated"),
        (struct.pack(">I", 100), "claims 100 pairs"),
        (b"\x00\x00", "shorter than its pair count"),
        (struct.pack(">I", 0) + b"junk", "stray bytes"),
    ],
)
def test_malformed_header_blocks_are_stream_errors(raw_block: bytes, reason: str) -> None:
    for frame_type in (FrameType.SYN_STREAM, FrameType.SYN_REPLY, FrameType.HEADERS):
        [frame] = FrameDecoder().receive_data(_raw_block_frame(frame_type, 7, raw_block))
        assert isinstance(frame, BadHeaderBlock)
        assert (frame.frame_type, frame.stream_id) == (frame_type, 7)
        assert any(part in frame.reason for part in reason.split("|"))


def test_decoding_continues_after_a_bad_header_block() -> None:
    # A bad block leaves the compression stream intact: the next frame still decodes.
    compressor = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    blocks = [
        compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)
        for raw in (struct.pack(">I", 9), struct.pack(">I", 0))
    ]
    wire = b"".join(struct.pack(">III", 0x80030008, 4 + len(block), 1) + block for block in blocks)
    first, second = FrameDecoder().receive_data(wire)
    assert isinstance(first, BadHeaderBlock)
    assert second == HeadersFrame(stream_id=1, headers=())


def test_empty_compressed_block_means_no_headers() -> None:
    wire = struct.pack(">III", 0x80030002, 4, 9)
    assert FrameDecoder().receive_data(wire) == [SynReplyFrame(stream_id=9, headers=())]


def test_header_block_size_limit() -> None:
    encoder = FrameEncoder()
    wire = encoder.encode(HeadersFrame(stream_id=1, headers=(("big", "x" * 20000),)))
    with pytest.raises(ProtocolError, match="larger than"):
        FrameDecoder(max_header_block_size=10000).receive_data(wire)


def test_minimum_control_frame_limit_is_enforced() -> None:
    with pytest.raises(ValueError, match="8192"):
        FrameDecoder(max_control_frame_size=100)


@pytest.mark.parametrize(
    "frame",
    [
        DataFrame(0, b"x"),
        SynStreamFrame(stream_id=MAX_STREAM_ID + 1, headers=()),
        SynStreamFrame(stream_id=1, headers=(), priority=8),
        SynStreamFrame(stream_id=1, headers=(("", "x"),)),
        SynReplyFrame(stream_id=1, headers=(("a\0b", "x"),)),
        HeadersFrame(stream_id=1, headers=(("a", "x\0y"),)),
        RstStreamFrame(0, 1),
        WindowUpdateFrame(1, 0),
        PingFrame(1 << 32),
        SettingsFrame(settings=(Setting(1 << 24, 1),)),
        GoAwayFrame(-1, 0),
    ],
)
def test_encoder_rejects_invalid_frames(frame: Frame) -> None:
    with pytest.raises(ValueError):
        FrameEncoder().encode(frame)


def test_encoder_rejects_oversized_data() -> None:
    with pytest.raises(ValueError, match="larger than a SPDY frame"):
        FrameEncoder().encode_data(1, bytes(1 << 24), False)


# ---------------------------------------------------------------- fuzzing


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=40))
def test_random_bytes_never_raise_anything_but_protocol_error(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    pos = 0
    chunks = []
    for cut in cuts:
        chunks.append(data[pos : pos + cut])
        pos += cut
    chunks.append(data[pos:])
    try:
        for chunk in chunks:
            decoder.receive_data(chunk)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(), max_size=8), st.data())
def test_generated_frames_round_trip_in_random_pieces(
    sent: list[Frame], data: st.DataObject
) -> None:
    wire = _encode_all(sent)
    decoder = FrameDecoder()
    got: list[Frame] = []
    pos = 0
    while pos < len(wire):
        step = data.draw(st.integers(1, 50))
        got += decoder.receive_data(wire[pos : pos + step])
        pos += step
    assert coalesce(got) == coalesce(sent)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.data())
def test_truncated_valid_streams_yield_a_prefix_and_wait(
    sent: list[Frame], data: st.DataObject
) -> None:
    wire = _encode_all(sent)
    cut = data.draw(st.integers(0, len(wire) - 1))
    got = FrameDecoder().receive_data(wire[:cut])
    # Nothing invented, nothing lost: what came out is a prefix of what went in.
    merged, expected = coalesce(got), coalesce(sent)
    assert len(merged) <= len(expected)
    for have, want in zip(merged, expected, strict=False):
        if isinstance(want, DataFrame) and isinstance(have, DataFrame):
            assert want.data.startswith(have.data)
            assert have.stream_id == want.stream_id
        else:
            assert have == want
