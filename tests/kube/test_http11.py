"""The sans-IO HTTP/1.1 client codec: unit cases, and a fuzz test with h11 as the reference."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vk_trio.kube._http11 import ProtocolError, ResponseParser, serialize_request


def parse(
    data: bytes, *, splits: list[int] | None = None, head: bool = False, eof: bool = False
) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser(head_request=head)
    body = b""
    cuts = sorted(set(splits or []))
    start = 0
    for cut in [*cuts, len(data)]:
        body += b"".join(parser.feed(data[start:cut]))
        start = cut
    if eof:
        parser.feed_eof()
    return parser, body


def test_serialize_request() -> None:
    data = serialize_request(
        b"PATCH", b"/api/v1/x?y=1", [(b"Host", b"h"), (b"Content-Length", b"2")], b"{}"
    )
    assert data == b"PATCH /api/v1/x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        (b"GE T", b"/", []),
        (b"GET", b"/a b", []),
        (b"GET", b"/a\r\n", []),
        (b"GET", b"", []),
        (b"GET", b"/", [(b"X-A", b"v\r\nInjected: 1")]),
        (b"GET", b"/", [(b"Bad Name", b"v")]),
        (b"GET", b"/", [(b"X", b"nul\x00")]),
    ],
)
def test_serialize_rejects_injection(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(ProtocolError):
        serialize_request(method, target, headers, b"")


def test_content_length_body_in_pieces() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
        b"hello world"
    )
    for cut in range(len(data) + 1):
        parser, body = parse(data, splits=[cut])
        assert parser.done and parser.keep_alive
        assert body == b"hello world"
        assert parser.head is not None
        assert parser.head.status_code == 200
        assert parser.head.reason == b"OK"
        assert parser.head.headers == [
            (b"content-type", b"application/json"),
            (b"content-length", b"11"),
        ]


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    for cut in range(len(data) + 1):
        parser, body = parse(data, splits=[cut, cut + 3])
        assert parser.done and parser.keep_alive
        assert body == b"hello world"


def test_no_body_cases() -> None:
    parser, body = parse(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
    assert parser.done and body == b""
    parser, body = parse(b"HTTP/1.1 304 Not Modified\r\n\r\n")
    assert parser.done and parser.keep_alive
    parser, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head=True)
    assert parser.done and body == b""
    parser, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.done and parser.keep_alive and body == b""


def test_interim_responses_are_skipped() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
    )
    parser, body = parse(data, splits=[10, 30])
    assert parser.head is not None and parser.head.status_code == 201
    assert body == b"{}"


def test_read_until_close() -> None:
    parser, body = parse(b"HTTP/1.1 200 OK\r\n\r\nsome data", eof=True)
    assert parser.done and not parser.keep_alive
    assert body == b"some data"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",  # bytes after the message
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    ],
)
def test_not_reusable(data: bytes) -> None:
    parser, _ = parse(data)
    assert parser.done
    assert not parser.keep_alive


def test_http10_keep_alive() -> None:
    parser, _ = parse(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
    assert parser.keep_alive


def test_trailing_bytes_after_done_poison_the_connection() -> None:
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.keep_alive
    assert parser.feed(b"junk") == []
    assert not parser.keep_alive


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
    ],
)
def test_malformed_responses(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(data)


def test_truncation_is_detected() -> None:
    with pytest.raises(ProtocolError, match="before any response"):
        parse(b"", eof=True)
    with pytest.raises(ProtocolError, match="middle"):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof=True)
    with pytest.raises(ProtocolError, match="middle"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", eof=True)
    with pytest.raises(ProtocolError, match="middle"):
        parse(b"HTTP/1.1 200 O", eof=True)


def test_oversized_head_and_chunk_line() -> None:
    with pytest.raises(ProtocolError, match="too large"):
        parse(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000)
    with pytest.raises(ProtocolError, match="too long"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 5000)


# -- fuzz against h11 -------------------------------------------------------------------

token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
reserved = {"content-length", "transfer-encoding", "connection"}


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    status = draw(st.sampled_from([200, 201, 204, 304, 404, 409, 422, 429, 500, 503]))
    headers = [
        (n, v)
        for n, v in draw(st.lists(st.tuples(token, value), max_size=5))
        if n.lower() not in reserved
    ]
    body = draw(st.binary(max_size=300)) if status not in (204, 304) else b""
    chunked = draw(st.booleans())
    close = draw(st.booleans())
    head = [f"HTTP/1.1 {status} Reason Phrase"]
    head += [f"{n}: {v}" for n, v in headers]
    if close:
        head.append("Connection: close")
    if status in (204, 304):
        payload = b""
    elif chunked:
        head.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 50), max_size=10))
        payload, rest = b"", body
        for size in sizes:
            if not rest:
                break
            piece, rest = rest[:size], rest[size:]
            payload += b"%x\r\n" % len(piece) + piece + b"\r\n"
        if rest:
            payload += b"%x\r\n" % len(rest) + rest + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        head.append(f"Content-Length: {len(body)}")
        payload = body
    data = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    splits = draw(st.lists(st.integers(0, len(data)), max_size=6))
    return data, splits


def h11_parse(data: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    status, headers, body = 0, [], b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status, headers = event.status_code, list(event.headers)
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            break
        else:
            raise AssertionError(event)
    return status, headers, body, conn.our_state is h11.DONE and conn.their_state is h11.DONE


@settings(max_examples=300, deadline=None)
@given(responses())
def test_agrees_with_h11(case: tuple[bytes, list[int]]) -> None:
    data, splits = case
    status, headers, body, reusable = h11_parse(data)
    parser, got = parse(data, splits=splits)
    assert parser.done
    assert parser.head is not None
    assert parser.head.status_code == status
    assert parser.head.headers == headers
    assert got == body
    assert parser.keep_alive == reusable
