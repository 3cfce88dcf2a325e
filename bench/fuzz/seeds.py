"""Writes the seed corpus under ``tests/fuzz/corpus/<target>/`` (``python -m bench.fuzz.seeds``).

Seeds are valid (or nearly valid) inputs: the mutators start from them so that most inputs get
past the first length check.  Every seed starts with the read-size prefix ``targets.cuts``
expects (here ``0x00``: one read), except for the targets that take the input whole.  The files
are committed; the Hypothesis tests replay every one of them.
"""

from __future__ import annotations

import struct
from pathlib import Path

from vk_trio.api.spdy import (
    DataFrame,
    FrameEncoder,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    Setting,
    SettingsFrame,
    SynReplyFrame,
    SynStreamFrame,
    WindowUpdateFrame,
)
from vk_trio.api.spdy._headers import encode_header_block

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "fuzz" / "corpus"

EXEC_HEADERS = (("streamtype", "stdin"), ("port", "8080"), ("requestid", "0"))


def _spdy() -> list[bytes]:
    encoder = FrameEncoder()
    session_bytes = b"".join(
        encoder.encode(frame)
        for frame in (
            SettingsFrame(settings=(Setting(7, 1 << 24),)),
            SynStreamFrame(stream_id=1, headers=EXEC_HEADERS),
            SynStreamFrame(stream_id=3, headers=(("streamtype", "error"),), fin=True),
            DataFrame(1, b"hello", fin=False),
            HeadersFrame(stream_id=1, headers=(("x", "y"),)),
            WindowUpdateFrame(1, 4096),
            PingFrame(1),
            DataFrame(1, b"", fin=True),
            RstStreamFrame(3, 5),
            GoAwayFrame(3, 0),
        )
    )
    reply = FrameEncoder().encode(SynReplyFrame(stream_id=2, headers=(("a", "b"),)))
    return [b"\x00" + session_bytes, b"\x03\x07\x0b\x30" + session_bytes, b"\x00" + reply]


def _header_blocks() -> list[bytes]:
    return [
        encode_header_block(EXEC_HEADERS),
        encode_header_block([("a", "b"), ("empty", "")]),
        struct.pack(">I", 1) + struct.pack(">I", 3) + b"abc" + struct.pack(">I", 1) + b"x",
    ]


def _websocket() -> list[bytes]:
    return [
        b"\x00\x00stdin bytes",  # v5, stdin
        b"\x00\xff\x00",  # v5 CLOSE of stdin
        b"\x02" + b"0aGVsbG8=",  # v4 base64, channel 0
        b"\x82" + b"1d29ybGQ=",  # the same as a text message
        b"\x03\x04" + b'{"Width":80,"Height":24}',  # resize channel
    ]


def _http11() -> list[bytes]:
    return [
        b"\x00HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        b"\x02\x05\x20HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
        b"\x00HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"\x00HTTP/1.0 200 OK\r\n\r\nuntil close",
        b"\x40HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    ]


def _watch() -> list[bytes]:
    pod = b'{"kind":"Pod","metadata":{"name":"p","resourceVersion":"5"}}'
    status = (
        b'{"kind":"Status","status":"Failure","code":410,"reason":"Expired",'
        b'"message":"too old resource version"}'
    )
    return [
        b"\x00" + b'{"type":"ADDED","object":' + pod + b"}\n",
        b"\x02\x10\x03" + b'{"type":"MODIFIED","object":' + pod + b'}\n{"type":"BOOKMARK",'
        b'"object":{"metadata":{"resourceVersion":"9"}}}\n',
        b"\x00" + b'{"type":"ERROR","object":' + status + b"}\n",
        b"\x00" + b'{"type":"ERROR","object":{"kind":"Status","code":500}}\n',
    ]


def _front_door() -> list[bytes]:
    return [
        b"\x00GET /pods HTTP/1.1\r\nHost: k\r\n\r\n",
        b"\x00GET /runningpods/ HTTP/1.1\r\nHost: k\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n",
        b"\x02\x03\x10POST /exec/ns/p/c?command=ls&output=1 HTTP/1.1\r\nHost: k\r\n"
        b"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
        b"v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n",
        b"\x00GET /portForward/ns/p HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
        b"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: portforward.k8s.io\r\n\r\n",
        b"\x00GET /containerLogs/ns/p/c?tailLines=3&timestamps=true HTTP/1.1\r\nHost: k\r\n\r\n",
        b"\x00GET /stats/summary HTTP/1.0\r\n\r\n",
    ]


def _kubeconfig() -> list[bytes]:
    return [
        b"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: abc
contexts:
- name: x
  context: {cluster: c, user: u, namespace: ns}
current-context: x
""",
        b"""apiVersion: v1
clusters: [{name: c, cluster: {server: "http://localhost:8080"}}]
users: [{name: u, user: {username: a, password: b}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""",
        b"{}",
    ]


SEEDS = {
    "spdy_frames": _spdy,
    "spdy_session": _spdy,
    "spdy_header_block": _header_blocks,
    "websocket_channel": _websocket,
    "http11_response": _http11,
    "watch_stream": _watch,
    "front_door": _front_door,
    "kubeconfig": _kubeconfig,
}


def write_corpus(root: Path = CORPUS) -> int:
    count = 0
    for target, make in SEEDS.items():
        directory = root / target
        directory.mkdir(parents=True, exist_ok=True)
        for n, seed in enumerate(make()):
            (directory / f"seed-{n:02d}.bin").write_bytes(seed)
            count += 1
    return count


def load_corpus(target: str, root: Path = CORPUS) -> list[bytes]:
    """Every file of the target's corpus (seeds and any regression inputs added later)."""
    directory = root / target
    return [path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()]


if __name__ == "__main__":
    print(f"wrote {write_corpus()} seeds under {CORPUS}")
