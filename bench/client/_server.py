"""A minimal keep-alive HTTP/1.1 server for the client benchmark (asyncio, its own process).

It answers every request with the same ~1 KB JSON object, like a small API
object.  It parses just enough HTTP (request line, ``Content-Length``) to
stay far cheaper than the clients it measures: one asyncio ``Protocol`` in
one process, so it uses at most one core and leaves the other to the client.

Run: ``python -m bench.client._server [--tls CERT KEY]``; it prints
``READY <port>`` on stdout, then serves until stdin closes or it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys

_BODY = json.dumps(
    {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "bench-pod",
            "namespace": "bench",
            "uid": "5f0c4f5e-7a43-4f4b-9d0c-1f2e3d4c5b6a",
            "resourceVersion": "123456",
            "labels": {"app": "bench", "tier": "backend"},
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-11-26T10:00:00Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "10.0.0.1",
            "podIP": "10.244.0.17",
            "startTime": "2026-11-26T10:00:00Z",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": 0,
                    "image": "registry.example/app:1.2.3",
                    "imageID": "registry.example/app@sha256:" + "0" * 64,
                    "state": {"running": {"startedAt": "2026-11-26T10:00:01Z"}},
                }
            ],
        },
    },
    separators=(",", ":"),
).encode()

_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            del buffer[:total]
            out.append(_RESPONSE)
        if out and self._transport is not None:
            self._transport.write(b"".join(out))


async def _serve(cert: str | None, key: str | None) -> None:
    context = None
    if cert is not None and key is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", 0, ssl=context, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    # Serve until stdin is closed (the benchmark owns our lifetime through the pipe).
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    cert, key = args.tls if args.tls else (None, None)
    asyncio.run(_serve(cert, key))


if __name__ == "__main__":
    main()
