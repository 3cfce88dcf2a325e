"""Bytes <-> SPDY/3.1 frames, incrementally, with the header compression state of one session.

:class:`FrameDecoder` accepts bytes in arbitrary pieces (one byte at a time works) and returns the
frames completed so far.  Control frames are buffered until complete (bounded by
``max_control_frame_size``); DATA payloads are passed on as they arrive.  Anything that makes the
byte stream or the compression state untrustworthy raises :class:`ProtocolError`; a header block
that inflates but is malformed becomes a :class:`BadHeaderBlock` value instead, because the
session can reset just that stream and continue.

:class:`FrameEncoder` is the inverse.  Both hold one zlib stream, so a session needs exactly one
of each and must encode/decode frames in wire order.
"""

from __future__ import annotations

import struct
import zlib
from typing import final

from ._errors import ProtocolError
from ._frames import (
    FLAG_FIN,
    FLAG_SETTINGS_CLEAR,
    FLAG_UNIDIRECTIONAL,
    MAX_FRAME_LENGTH,
    MAX_STREAM_ID,
    SPDY_VERSION,
    BadHeaderBlock,
    DataFrame,
    Frame,
    FrameType,
    GoAwayFrame,
    Headers,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    Setting,
    SettingsFrame,
    SynReplyFrame,
    SynStreamFrame,
    UnknownFrame,
    WindowUpdateFrame,
)
from ._headers import (
    HeaderBlockError,
    HeaderCompressor,
    HeaderDecompressor,
    decode_header_block,
    encode_header_block,
)

__all__ = ["DEFAULT_MAX_CONTROL_FRAME_SIZE", "FrameDecoder", "FrameEncoder"]

DEFAULT_MAX_CONTROL_FRAME_SIZE = 1 << 20
DEFAULT_MAX_HEADER_BLOCK_SIZE = 1 << 20

_HEADER = struct.Struct(">II")
_U32 = struct.Struct(">I")
_TWO_U32 = struct.Struct(">II")
_CONTROL_WORD = 0x80000000 | (SPDY_VERSION << 16)
_STREAM_MASK = 0x7FFFFFFF


@final
class FrameDecoder:
    """Incremental SPDY/3.1 frame parser for one direction of one session."""

    def __init__(
        self,
        *,
        max_control_frame_size: int = DEFAULT_MAX_CONTROL_FRAME_SIZE,
        max_header_block_size: int = DEFAULT_MAX_HEADER_BLOCK_SIZE,
    ) -> None:
        if max_control_frame_size < 8192:
            # The spec obliges every implementation to accept control frames of 8192 bytes.
            raise ValueError("max_control_frame_size must be at least 8192")
        self._max_control = min(max_control_frame_size, MAX_FRAME_LENGTH)
        self._decompressor = HeaderDecompressor(max_header_block_size)
        self._buffer = bytearray()
        # State of a DATA frame whose payload is still arriving.
        self._data_stream = 0
        self._data_remaining = 0
        self._data_fin = False
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into frames."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Feed bytes; return every frame (or DATA piece) they complete, in wire order."""
        if self._error is not None:
            raise self._error
        try:
            return self._parse(data)
        except ProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            raise

    def _parse(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        # Parse straight from the caller's bytes when nothing is pending (the common case with
        # large reads): only an incomplete tail is copied into the buffer.
        buf: bytes | bytearray
        if self._buffer:
            self._buffer += data
            buf = self._buffer
        else:
            buf = data if isinstance(data, bytes) else bytes(data)
        size = len(buf)
        pos = 0
        frames: list[Frame] = []
        while True:
            if self._data_remaining:
                take = min(self._data_remaining, size - pos)
                if take == 0:
                    break
                self._data_remaining -= take
                fin = self._data_fin and self._data_remaining == 0
                frames.append(DataFrame(self._data_stream, bytes(buf[pos : pos + take]), fin))
                pos += take
                continue
            if size - pos < 8:
                break
            first, second = _HEADER.unpack_from(buf, pos)
            flags = second >> 24
            length = second & 0xFFFFFF
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != SPDY_VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                if length > self._max_control:
                    raise ProtocolError(f"control frame of {length} bytes exceeds the limit")
                if size - pos - 8 < length:
                    break
                payload = bytes(buf[pos + 8 : pos + 8 + length])
                pos += 8 + length
                frames.append(self._control(first & 0xFFFF, flags, payload))
            else:
                stream_id = first & _STREAM_MASK
                if stream_id == 0:
                    raise ProtocolError("DATA frame on stream 0")
                pos += 8
                fin = bool(flags & FLAG_FIN)
                if length == 0:
                    frames.append(DataFrame(stream_id, b"", fin))
                else:
                    self._data_stream = stream_id
                    self._data_remaining = length
                    self._data_fin = fin
        if buf is self._buffer:
            if pos:
                del self._buffer[:pos]
        elif pos < size:
            self._buffer = bytearray(buf[pos:])
        return frames

    def _headers(self, frame_type: int, stream_id: int, block: bytes) -> Headers | BadHeaderBlock:
        # Inflate first, whatever else is wrong: the compression state must stay in step.
        raw = self._decompressor.decompress(block)
        if stream_id == 0:
            raise ProtocolError(f"{FrameType(frame_type).name} on stream 0")
        if not raw:
            return ()
        try:
            return decode_header_block(raw)
        except HeaderBlockError as exc:
            return BadHeaderBlock(frame_type, stream_id, str(exc))

    def _control(self, frame_type: int, flags: int, payload: bytes) -> Frame:
        length = len(payload)
        if frame_type == FrameType.SYN_STREAM:
            if length < 10:
                raise ProtocolError("SYN_STREAM shorter than 10 bytes")
            stream_id, associated = _TWO_U32.unpack_from(payload, 0)
            stream_id &= _STREAM_MASK
            headers = self._headers(frame_type, stream_id, payload[10:])
            if isinstance(headers, BadHeaderBlock):
                return headers
            return SynStreamFrame(
                stream_id=stream_id,
                associated_stream_id=associated & _STREAM_MASK,
                priority=payload[8] >> 5,
                slot=payload[9],
                headers=headers,
                fin=bool(flags & FLAG_FIN),
                unidirectional=bool(flags & FLAG_UNIDIRECTIONAL),
            )
        if frame_type in (FrameType.SYN_REPLY, FrameType.HEADERS):
            if length < 4:
                raise ProtocolError(f"{FrameType(frame_type).name} shorter than 4 bytes")
            stream_id = _U32.unpack_from(payload, 0)[0] & _STREAM_MASK
            headers = self._headers(frame_type, stream_id, payload[4:])
            if isinstance(headers, BadHeaderBlock):
                return headers
            fin = bool(flags & FLAG_FIN)
            if frame_type == FrameType.SYN_REPLY:
                return SynReplyFrame(stream_id=stream_id, headers=headers, fin=fin)
            return HeadersFrame(stream_id=stream_id, headers=headers, fin=fin)
        if frame_type == FrameType.RST_STREAM:
            if length != 8:
                raise ProtocolError(f"RST_STREAM of length {length}")
            stream_id, status = _TWO_U32.unpack_from(payload, 0)
            stream_id &= _STREAM_MASK
            if stream_id == 0:
                raise ProtocolError("RST_STREAM on stream 0")
            return RstStreamFrame(stream_id, status)
        if frame_type == FrameType.SETTINGS:
            if length < 4:
                raise ProtocolError("SETTINGS shorter than 4 bytes")
            (count,) = _U32.unpack_from(payload, 0)
            if length != 4 + 8 * count:
                raise ProtocolError(f"SETTINGS with {count} entries has length {length}")
            entries = []
            for offset in range(4, length, 8):
                flags_id, value = _TWO_U32.unpack_from(payload, offset)
                entries.append(Setting(flags_id & 0xFFFFFF, value, flags_id >> 24))
            return SettingsFrame(settings=tuple(entries), clear=bool(flags & FLAG_SETTINGS_CLEAR))
        if frame_type == FrameType.PING:
            if length != 4:
                raise ProtocolError(f"PING of length {length}")
            return PingFrame(_U32.unpack_from(payload, 0)[0])
        if frame_type == FrameType.GOAWAY:
            if length != 8:
                raise ProtocolError(f"GOAWAY of length {length}")
            last_good, status = _TWO_U32.unpack_from(payload, 0)
            return GoAwayFrame(last_good & _STREAM_MASK, status)
        if frame_type == FrameType.WINDOW_UPDATE:
            if length != 8:
                raise ProtocolError(f"WINDOW_UPDATE of length {length}")
            stream_id, delta = _TWO_U32.unpack_from(payload, 0)
            return WindowUpdateFrame(stream_id & _STREAM_MASK, delta & _STREAM_MASK)
        return UnknownFrame(frame_type, flags, payload)


def _check_stream_id(stream_id: int, *, allow_zero: bool = False) -> None:
    if not (0 if allow_zero else 1) <= stream_id <= MAX_STREAM_ID:
        raise ValueError(f"stream id {stream_id} out of range")


def _control_header(frame_type: int, flags: int, length: int) -> bytes:
    if length > MAX_FRAME_LENGTH:
        raise ValueError(f"control frame of {length} bytes is too large for SPDY")
    return _HEADER.pack(_CONTROL_WORD | frame_type, (flags << 24) | length)


@final
class FrameEncoder:
    """Serializes frames for one direction of one session (owns the compression stream)."""

    def __init__(self, compression_level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        self._compressor = HeaderCompressor(compression_level)

    def encode_data(self, stream_id: int, data: bytes | bytearray | memoryview, fin: bool) -> bytes:
        """One DATA frame; ``data`` must fit in a frame (at most 16 MiB - 1)."""
        return self.data_header(stream_id, len(data), fin) + data

    def data_header(self, stream_id: int, length: int, fin: bool) -> bytes:
        """Just the 8-byte header of a DATA frame of ``length`` bytes (lets a sender queue the
        payload without copying it into a new frame buffer)."""
        if length > MAX_FRAME_LENGTH:
            raise ValueError("DATA payload larger than a SPDY frame")
        _check_stream_id(stream_id)
        return _HEADER.pack(stream_id, (FLAG_FIN << 24 if fin else 0) | length)

    def encode(self, frame: Frame) -> bytes:
        """Serialize any frame value (header blocks are compressed here, in call order)."""
        if isinstance(frame, DataFrame):
            return self.encode_data(frame.stream_id, frame.data, frame.fin)
        if isinstance(frame, SynStreamFrame):
            _check_stream_id(frame.stream_id)
            _check_stream_id(frame.associated_stream_id, allow_zero=True)
            if not 0 <= frame.priority <= 7 or not 0 <= frame.slot <= 255:
                raise ValueError("SYN_STREAM priority must be 0-7 and slot 0-255")
            block = self._compressor.compress(encode_header_block(frame.headers))
            flags = (FLAG_FIN if frame.fin else 0) | (
                FLAG_UNIDIRECTIONAL if frame.unidirectional else 0
            )
            return (
                _control_header(FrameType.SYN_STREAM, flags, 10 + len(block))
                + _TWO_U32.pack(frame.stream_id, frame.associated_stream_id)
                + bytes((frame.priority << 5, frame.slot))
                + block
            )
        if isinstance(frame, SynReplyFrame | HeadersFrame):
            _check_stream_id(frame.stream_id)
            block = self._compressor.compress(encode_header_block(frame.headers))
            frame_type = (
                FrameType.SYN_REPLY if isinstance(frame, SynReplyFrame) else FrameType.HEADERS
            )
            return (
                _control_header(frame_type, FLAG_FIN if frame.fin else 0, 4 + len(block))
                + _U32.pack(frame.stream_id)
                + block
            )
        if isinstance(frame, RstStreamFrame):
            _check_stream_id(frame.stream_id)
            return _control_header(FrameType.RST_STREAM, 0, 8) + _TWO_U32.pack(
                frame.stream_id, frame.status
            )
        if isinstance(frame, SettingsFrame):
            body = [_U32.pack(len(frame.settings))]
            for entry in frame.settings:
                if not 0 <= entry.id <= 0xFFFFFF or not 0 <= entry.flags <= 0xFF:
                    raise ValueError(f"invalid SETTINGS entry {entry!r}")
                body.append(_TWO_U32.pack((entry.flags << 24) | entry.id, entry.value))
            payload = b"".join(body)
            flags = FLAG_SETTINGS_CLEAR if frame.clear else 0
            return _control_header(FrameType.SETTINGS, flags, len(payload)) + payload
        if isinstance(frame, PingFrame):
            if not 0 <= frame.ping_id <= 0xFFFFFFFF:
                raise ValueError("PING id must fit in 32 bits")
            return _control_header(FrameType.PING, 0, 4) + _U32.pack(frame.ping_id)
        if isinstance(frame, GoAwayFrame):
            _check_stream_id(frame.last_good_stream_id, allow_zero=True)
            return _control_header(FrameType.GOAWAY, 0, 8) + _TWO_U32.pack(
                frame.last_good_stream_id, frame.status
            )
        if isinstance(frame, WindowUpdateFrame):
            _check_stream_id(frame.stream_id, allow_zero=True)
            if not 1 <= frame.delta <= MAX_STREAM_ID:
                raise ValueError("WINDOW_UPDATE delta must be 1..2**31-1")
            return _control_header(FrameType.WINDOW_UPDATE, 0, 8) + _TWO_U32.pack(
                frame.stream_id, frame.delta
            )
        if isinstance(frame, UnknownFrame):
            header = _control_header(frame.frame_type, frame.flags, len(frame.payload))
            return header + frame.payload
        raise TypeError(f"cannot encode {frame!r}")
