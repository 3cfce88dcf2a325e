"""Hostile clients of the kubelet port, run as their own process during a fault run.

``python -m tests.faults._flood tokens URL --concurrency N``: requests with a fresh random bearer
token each, as fast as ``N`` concurrent clients go (issue 13, finding 1: every new token costs
the node a TokenReview).

``python -m tests.faults._flood ping URL NAMESPACE POD --cert C --key K --ca CA``: a port-forward
session (SPDY/3.1 after the 101) that sends PING frames without pause and never reads (finding 2:
the replies queue up in the node).

Both run until SIGTERM and then print one JSON line of counters on stdout. They run in a process
of their own so that the flood is not slowed down by the churn driver sharing the test's GIL.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import ssl
import struct
import sys
from collections import Counter
from urllib.parse import urlsplit

import httpx
import trio


async def _until_terminated(cancel: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            cancel.cancel()
            return


async def tokens(url: str, concurrency: int) -> dict[str, int]:
    counts: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(verify=False, limits=limits, timeout=30) as client:

        async def one_client() -> None:
            while True:
                token = secrets.token_urlsafe(24)
                try:
                    response = await client.get(
                        f"{url}/pods", headers={"Authorization": f"Bearer {token}"}
                    )
                    counts[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    counts[type(exc).__name__] += 1
                    await trio.sleep(0.05)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_terminated, nursery.cancel_scope)
            for _ in range(concurrency):
                nursery.start_soon(one_client)
    return dict(counts)


def _ping_frame(ping_id: int) -> bytes:
    # SPDY/3.1 control frame: version 3, type 6 (PING), flags 0, length 4, then the id.
    return struct.pack(">HHII", 0x8003, 6, 4, ping_id)


async def ping(  # noqa: PLR0917 (argv, passed straight through trio.run)
    url: str, namespace: str, pod: str, cert: str, key: str, ca: str
) -> dict[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    stream = await trio.open_ssl_over_tcp_stream(parts.hostname, parts.port, ssl_context=context)
    head = (
        f"POST /portForward/{namespace}/{pod} HTTP/1.1\r\n"
        f"Host: {parts.hostname}:{parts.port}\r\n"
        "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    await stream.send_all(head)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise SystemExit(f"ping flood: connection closed before the upgrade: {answer!r}")
        answer += chunk
    status = answer.split(b"\r\n", 1)[0]
    if b" 101 " not in status + b" ":
        raise SystemExit(f"ping flood: upgrade refused: {status.decode(errors='replace')}")
    sent = 0
    batch = b"".join(_ping_frame(2 * i + 1) for i in range(256))  # odd ids: client-initiated
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_terminated, scope)
            try:
                while True:
                    # Never read: the node's replies pile up unless it applies back-pressure,
                    # in which case this send blocks (that is the bound working).
                    await stream.send_all(batch)
                    sent += 256
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            scope.cancel()
    return {"pings_sent": sent}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faults._flood")
    sub = parser.add_subparsers(dest="kind", required=True)
    flood_tokens = sub.add_parser("tokens")
    flood_tokens.add_argument("url")
    flood_tokens.add_argument("--concurrency", type=int, default=200)
    flood_ping = sub.add_parser("ping")
    for name in ("url", "namespace", "pod"):
        flood_ping.add_argument(name)
    for name in ("--cert", "--key", "--ca"):
        flood_ping.add_argument(name, required=True)
    args = parser.parse_args(argv)
    if args.kind == "tokens":
        result = trio.run(tokens, args.url, args.concurrency)
    else:
        result = trio.run(ping, args.url, args.namespace, args.pod, args.cert, args.key, args.ca)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
