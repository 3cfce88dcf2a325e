"""A small sans-IO HTTP/1.1 client codec: request heads out, responses in.

Why not h11 here: h11 is a complete, careful implementation of both sides of
HTTP/1.1, and on this path that care costs ~70 µs per request/response pair
(event objects, per-header regex validation, a generic state machine) - about
a quarter of the client's CPU per request, measured.  The client only ever
needs one narrow thing: write a request whose head it built itself, then parse
one response.  This module does exactly that, strictly:

* the request head is serialised from (name, value) pairs, refusing CR/LF or
  NUL anywhere (no header injection) and names with separators;
* the response head must be ``HTTP/1.x <3 digits> <reason>`` with ``name:
  value`` lines (obsolete line folding is rejected, as RFC 9112 allows);
* the body is framed as RFC 9112 section 6.3 says: no body for HEAD, 1xx, 204
  and 304; ``Transfer-Encoding: chunked`` (the only coding accepted) wins
  over ``Content-Length``; then ``Content-Length`` (conflicting values are an
  error); else the body runs until the connection closes;
* interim 1xx responses (other than 101) are skipped;
* ``keep_alive`` is False for ``Connection: close``, HTTP/1.0 without
  ``keep-alive``, read-until-close bodies, and bytes after the message.

No I/O, no trio: the transport feeds bytes in and takes events out; the tests
fuzz it against h11 as the reference.
"""

from __future__ import annotations

import re
from typing import Final, final

__all__ = ["ProtocolError", "ResponseHead", "ResponseParser", "serialize_request"]

_MAX_HEAD: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 4096
_BAD_VALUE: Final = re.compile(rb"[\x00\r\n]")
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINE: Final = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n]*))?")
_NO_BODY_STATUS: Final = frozenset({204, 304})


class ProtocolError(Exception):
    """The peer sent something that is not acceptable HTTP/1.1 (or we were asked to)."""


def serialize_request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """The bytes of a request; ``headers`` must already carry Host and Content-Length."""
    if not _TOKEN.fullmatch(method):
        raise ProtocolError(f"invalid method {method!r}")
    if not target or _BAD_VALUE.search(target) or b" " in target:
        raise ProtocolError(f"invalid request target {target!r}")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise ProtocolError(f"invalid header name {name!r}")
        if _BAD_VALUE.search(value):
            raise ProtocolError(f"invalid value for header {name!r}")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    if body:
        parts.append(body)
    return b"".join(parts)


@final
class ResponseHead:
    """Status, reason and headers (names lower-cased, in order) of a response."""

    __slots__ = ("headers", "http_version", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: bytes,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version


# Body framing modes
_LENGTH: Final = 1
_CHUNKED: Final = 2
_UNTIL_CLOSE: Final = 3
_NONE: Final = 4

# Chunked sub-states
_CHUNK_SIZE: Final = 1
_CHUNK_DATA: Final = 2
_CHUNK_DATA_END: Final = 3
_TRAILERS: Final = 4


@final
class ResponseParser:
    """Parses one response (after skipping interim 1xx ones).

    Call :meth:`feed` with every received buffer: it returns the body bytes
    that buffer completed (possibly empty).  ``head`` is set once the head is
    complete, ``done`` once the message is.  At end of stream call
    :meth:`feed_eof`: it completes a read-until-close body and raises
    :class:`ProtocolError` for a truncated message.
    """

    __slots__ = (
        "_buffer",
        "_chunk_left",
        "_chunk_state",
        "_head_request",
        "_mode",
        "_remaining",
        "done",
        "head",
        "keep_alive",
    )

    def __init__(self, *, head_request: bool = False) -> None:
        self._head_request = head_request
        self._buffer = b""
        self.head: ResponseHead | None = None
        self.done = False
        self.keep_alive = True
        self._mode = 0
        self._remaining = 0
        self._chunk_state = _CHUNK_SIZE
        self._chunk_left = 0

    def feed(self, data: bytes) -> list[bytes]:
        if self.done:
            if data:
                self.keep_alive = False  # bytes after the end: never reuse this connection
            return []
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        if self.head is None:
            buffer = self._parse_heads(buffer)
            if self.head is None:
                return []
        mode = self._mode
        if mode == _LENGTH:
            remaining = self._remaining
            if len(buffer) < remaining:
                self._remaining = remaining - len(buffer)
                return [buffer] if buffer else []
            self._finish(buffer[remaining:])
            return [buffer[:remaining]] if remaining else []
        if mode == _CHUNKED:
            return self._parse_chunked(buffer)
        if mode == _UNTIL_CLOSE:
            return [buffer] if buffer else []
        self._finish(buffer)  # no body
        return []

    def feed_eof(self) -> None:
        if self.done:
            return
        if self.head is not None and self._mode == _UNTIL_CLOSE:
            self.done = True
            self.keep_alive = False
            return
        if self.head is None and not self._buffer:
            raise ProtocolError("connection closed before any response")
        raise ProtocolError("connection closed in the middle of the response")

    # -- internals -------------------------------------------------------------------------

    def _finish(self, rest: bytes) -> None:
        self.done = True
        if rest:
            self.keep_alive = False

    def _parse_heads(self, buffer: bytes) -> bytes:
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise ProtocolError("response head too large")
                self._buffer = buffer
                return b""
            head = self._parse_head(buffer[:end])
            buffer = buffer[end + 4 :]
            if 100 <= head.status_code < 200 and head.status_code != 101:
                continue  # interim response (100 Continue, 103 Early Hints): skip
            self.head = head
            self._frame(head)
            return buffer

    def _parse_head(self, raw: bytes) -> ResponseHead:
        lines = raw.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise ProtocolError(f"malformed status line {lines[0][:100]!r}")
        minor, code, reason = match.groups()
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(name):
                raise ProtocolError(f"malformed header line {line[:100]!r}")
            value = value.strip(b" \t")
            if b"\x00" in value or b"\r" in value or b"\n" in value:
                raise ProtocolError(f"invalid value for header {name!r}")
            headers.append((name.lower(), value))
        return ResponseHead(int(code), reason or b"", headers, b"1." + minor)

    def _frame(self, head: ResponseHead) -> None:
        connection = b""
        transfer = None
        lengths = []
        for name, value in head.headers:
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                transfer = value if transfer is None else transfer + b"," + value
            elif name == b"connection":
                connection = connection + b"," + value.lower() if connection else value.lower()
        tokens = {t.strip() for t in connection.split(b",")} if connection else set()
        if b"close" in tokens or (head.http_version == b"1.0" and b"keep-alive" not in tokens):
            self.keep_alive = False
        if self._head_request or head.status_code in _NO_BODY_STATUS or head.status_code == 101:
            self._mode = _NONE
            if head.status_code == 101:
                self.keep_alive = False
            return
        if transfer is not None:
            codings = [t.strip().lower() for t in transfer.split(b",") if t.strip()]
            if codings != [b"chunked"]:
                raise ProtocolError(f"unsupported Transfer-Encoding {transfer!r}")
            self._mode = _CHUNKED
            return
        if lengths:
            values = {v.strip() for value in lengths for v in value.split(b",")}
            if len(values) != 1:
                raise ProtocolError(f"conflicting Content-Length values {sorted(values)!r}")
            (value,) = values
            if not value.isdigit() or len(value) > 18:
                raise ProtocolError(f"invalid Content-Length {value!r}")
            self._mode = _LENGTH
            self._remaining = int(value)
            return
        self._mode = _UNTIL_CLOSE
        self.keep_alive = False

    def _parse_chunked(self, buffer: bytes) -> list[bytes]:
        out: list[bytes] = []
        pos = 0
        size = len(buffer)
        while True:
            state = self._chunk_state
            if state == _CHUNK_DATA:
                take = min(self._chunk_left, size - pos)
                if take:
                    out.append(buffer[pos : pos + take])
                    pos += take
                    self._chunk_left -= take
                if self._chunk_left:
                    return out
                self._chunk_state = _CHUNK_DATA_END
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                rest = buffer[pos:]
                if len(rest) > _MAX_CHUNK_LINE:
                    raise ProtocolError("chunk header or trailer line too long")
                self._buffer = rest
                return out
            line = buffer[pos:end]
            pos = end + 2
            if state == _CHUNK_SIZE:
                text = line.split(b";", 1)[0].strip(b" \t")
                if not text or len(text) > 16 or text.strip(b"0123456789abcdefABCDEF"):
                    raise ProtocolError(f"invalid chunk size line {line[:100]!r}")
                length = int(text, 16)
                if length:
                    self._chunk_left = length
                    self._chunk_state = _CHUNK_DATA
                else:
                    self._chunk_state = _TRAILERS
            elif state == _CHUNK_DATA_END:
                if line:
                    raise ProtocolError("chunk data longer than its size")
                self._chunk_state = _CHUNK_SIZE
            else:  # trailers: ignored, up to the empty line that ends the message
                if not line:
                    self._finish(buffer[pos:])
                    return out
                if b":" not in line:
                    raise ProtocolError(f"malformed trailer line {line[:100]!r}")
