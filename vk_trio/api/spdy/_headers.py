"""Name/value header blocks and their zlib compression (SPDY/3 section 2.6.10).

A block is a 32-bit pair count followed by length-prefixed names and values (32-bit lengths in
SPDY/3).  Names are lower case; a header with several values is sent once with the values joined
by NUL.  Each direction of a session compresses all of its blocks with *one* zlib stream seeded
with the SPDY dictionary, flushed with ``Z_SYNC_FLUSH`` after every block, so the peer can inflate
each frame's block as soon as the frame arrives - and so a block we fail to inflate poisons every
later one (a session error), whereas a block that inflates to garbage only spoils its own stream.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import final

from ._dictionary import SPDY3_DICTIONARY
from ._errors import ProtocolError
from ._frames import Headers

__all__ = [
    "HeaderBlockError",
    "HeaderCompressor",
    "HeaderDecompressor",
    "decode_header_block",
    "encode_header_block",
    "header_value",
]

_U32 = struct.Struct(">I")


@final
class HeaderBlockError(ValueError):
    """A decompressed header block is malformed (a stream error, not a session error)."""


def encode_header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """Serialize ``headers`` (uncompressed), merging repeated names into NUL-joined values.

    Names are lower-cased; they must be non-empty and neither names nor values may contain NUL
    (NUL is the multi-value separator).  Strings are encoded as Latin-1 so that any byte value
    survives a round trip through :func:`decode_header_block`.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        lowered = name.lower()
        if not lowered or "\0" in lowered:
            raise ValueError(f"invalid SPDY header name {name!r}")
        if "\0" in value:
            raise ValueError(f"SPDY header value for {name!r} contains NUL")
        grouped.setdefault(lowered, []).append(value)
    parts = [_U32.pack(len(grouped))]
    for name, values in grouped.items():
        raw_name = name.encode("latin-1")
        raw_value = "\0".join(values).encode("latin-1")
        parts += (_U32.pack(len(raw_name)), raw_name, _U32.pack(len(raw_value)), raw_value)
    return b"".join(parts)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed header block; raises :class:`HeaderBlockError` if malformed.

    Names are lower-cased (Go peers always send lower case; we do not fail a stream over an
    upper-case letter).  A duplicated name or an empty name is an error, as the spec requires.
    NUL-separated values become separate pairs, in order.
    """
    size = len(block)
    if size < 4:
        raise HeaderBlockError("header block shorter than its pair count")
    (count,) = _U32.unpack_from(block, 0)
    # Each pair needs at least 8 bytes of lengths: reject absurd counts before looping.
    if count > (size - 4) // 8:
        raise HeaderBlockError(f"header block claims {count} pairs in {size} bytes")
    pos = 4
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for _ in range(count):
        if pos + 4 > size:
            raise HeaderBlockError("truncated header name length")
        (name_len,) = _U32.unpack_from(block, pos)
        pos += 4
        if name_len == 0:
            raise HeaderBlockError("empty header name")
        if pos + name_len + 4 > size:
            raise HeaderBlockError("truncated header name")
        name = block[pos : pos + name_len].decode("latin-1").lower()
        pos += name_len
        (value_len,) = _U32.unpack_from(block, pos)
        pos += 4
        if pos + value_len > size:
            raise HeaderBlockError("truncated header value")
        value = block[pos : pos + value_len].decode("latin-1")
        pos += value_len
        if name in seen:
            raise HeaderBlockError(f"duplicate header name {name!r}")
        seen.add(name)
        if "\0" in name:
            raise HeaderBlockError("NUL in header name")
        out.extend((name, part) for part in value.split("\0"))
    if pos != size:
        raise HeaderBlockError(f"{size - pos} stray bytes after the header block")
    return tuple(out)


def header_value(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or ``None``."""
    wanted = name.lower()
    for key, value in headers:
        if key == wanted:
            return value
    return None


@final
class HeaderCompressor:
    """The sending side's zlib stream (one per session direction)."""

    def __init__(self, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        self._zlib = zlib.compressobj(
            level, zlib.DEFLATED, zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, SPDY3_DICTIONARY
        )

    def compress(self, block: bytes) -> bytes:
        """Compress one header block and sync-flush, so the peer can inflate it right away."""
        return self._zlib.compress(block) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


@final
class HeaderDecompressor:
    """The receiving side's zlib stream; failures are session errors (:class:`ProtocolError`)."""

    def __init__(self, max_block_size: int) -> None:
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS, zdict=SPDY3_DICTIONARY)
        self._max = max_block_size

    def decompress(self, data: bytes) -> bytes:
        """Inflate one frame's compressed header block.

        An empty input inflates to nothing (the caller treats that as "no headers").  Output beyond
        ``max_block_size`` is refused: the stream state would have to be advanced through the
        rest anyway, and a peer sending that much header data is not one we want to keep talking to.
        """
        if not data:
            return b""
        if self._zlib.eof:
            raise ProtocolError("header compression stream already ended")
        try:
            out = self._zlib.decompress(data, self._max + 1)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not decompress: {exc}") from None
        if len(out) > self._max or self._zlib.unconsumed_tail:
            raise ProtocolError(f"header block larger than {self._max} bytes")
        if self._zlib.eof and self._zlib.unused_data:
            raise ProtocolError("data after the end of the header compression stream")
        return out
