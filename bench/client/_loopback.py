"""Requests/s against a minimal loopback server: stock httpx vs. vk_trio's client, same run.

Each measurement: ``concurrency`` tasks send merge-patch PATCHes back to back
over keep-alive connections (at most ``concurrency`` of them) for a fixed
time after a warm-up; the server (``_server.py``) runs in its own process.
Besides requests/s the client process's CPU time per request is recorded,
which is the steadier figure on a machine shared with other work.
"""

from __future__ import annotations

import functools
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import trio
import trustme

from vk_trio.kube import HTTP11Transport, KubeClient, KubeConfig, PoolLimits

PATH = "/api/v1/namespaces/bench/pods/bench-pod/status"
BODY = {"status": {"phase": "Running", "message": "ok"}}
HEADERS = {"Content-Type": "application/merge-patch+json", "Accept": "application/json"}
# "httpx+HTTP11Transport": the label stored results carry (the class is HTTP11Transport now)
CLIENTS = ("httpx", "httpx+HTTP11Transport", "vk_trio.KubeClient")


@contextmanager
def loopback_server(tls: bool) -> Iterator[tuple[str, ssl.SSLContext | None]]:
    """Start ``_server.py`` in a subprocess; yield (base URL, client SSL context)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "bench.client._server"]
        context = None
        if tls:
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1")
            cert_file, key_file = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            cert.private_key_and_cert_chain_pem.write_to_path(cert_file)
            cert.private_key_pem.write_to_path(key_file)
            args += ["--tls", cert_file, key_file]
            context = ssl.create_default_context()
            ca.configure_trust(context)
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_root())
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            if not line.startswith("READY "):
                raise RuntimeError(f"bench server did not start: {line!r}")
            port = int(line.split()[1])
            yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", context
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def measure(
    send: Callable[[], Awaitable[None]], concurrency: int, duration: float, warmup: float
) -> dict[str, float]:
    """Run ``concurrency`` senders; count the requests done in ``duration`` after ``warmup``."""
    count = 0
    measuring = False

    async def worker() -> None:
        nonlocal count
        while True:
            await send()
            if measuring:
                count += 1

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
        await trio.sleep(warmup)
        measuring = True
        cpu0, start = time.process_time(), time.perf_counter()
        await trio.sleep(duration)
        measuring = False
        cpu1, elapsed = time.process_time(), time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return {
        "requests_per_second": count / elapsed,
        "cpu_us_per_request": (cpu1 - cpu0) / count * 1e6 if count else float("nan"),
        "requests": count,
    }


async def run_client(
    name: str,
    base: str,
    context: ssl.SSLContext | None,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
) -> dict[str, float]:
    url = base + PATH
    body = orjson.dumps(BODY)
    if name == "vk_trio.KubeClient":
        config = KubeConfig.for_server(base, ssl_context=context)
        async with KubeClient(config, qps=None, max_connections=concurrency) as client:

            async def send_kube() -> None:
                await client.patch(PATH, BODY)

            return await measure(send_kube, concurrency, duration, warmup)
    if name == "httpx":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        http = httpx.AsyncClient(limits=limits, verify=context or True)
    else:
        transport = HTTP11Transport(
            ssl_context=context, limits=PoolLimits(max_connections=concurrency)
        )
        http = httpx.AsyncClient(transport=transport)
    async with http:

        async def send_httpx() -> None:
            response = await http.patch(url, content=body, headers=HEADERS)
            response.raise_for_status()
            orjson.loads(response.content)

        return await measure(send_httpx, concurrency, duration, warmup)


def run(quick: bool) -> dict[str, Any]:
    """All clients x (plain, TLS) x concurrency 1/16/64; returns the results section."""
    duration, warmup = (1.0, 0.3) if quick else (5.0, 1.0)
    rows: list[dict[str, Any]] = []
    for tls in (False, True):
        with loopback_server(tls) as (base, context):
            for concurrency in (1, 16, 64):
                for name in CLIENTS:
                    result = trio.run(
                        functools.partial(
                            run_client,
                            name,
                            base,
                            context,
                            concurrency=concurrency,
                            duration=duration,
                            warmup=warmup,
                        )
                    )
                    row = {
                        "client": name,
                        "scheme": "https" if tls else "http",
                        "concurrency": concurrency,
                        **result,
                        "load_average": os.getloadavg()[0],
                    }
                    rows.append(row)
                    print(
                        f"  {row['scheme']:5} c={concurrency:<3} {name:20} "
                        f"{result['requests_per_second']:8.0f} req/s "
                        f"{result['cpu_us_per_request']:6.0f} µs CPU/req",
                        flush=True,
                    )
    return {"duration_s": duration, "warmup_s": warmup, "rows": rows, "bars": _bars(rows)}


def _bars(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rate(client: str, scheme: str) -> float:
        for row in rows:
            if (row["client"], row["scheme"], row["concurrency"]) == (client, scheme, 16):
                return float(row["requests_per_second"])
        raise KeyError(client)

    bars = []
    for scheme in ("http", "https"):
        ours, stock = rate("vk_trio.KubeClient", scheme), rate("httpx", scheme)
        bars.append(
            {
                "scheme": scheme,
                "concurrency": 16,
                "ours_requests_per_second": ours,
                "stock_httpx_requests_per_second": stock,
                "ratio": ours / stock,
                "meets_3000": ours >= 3000,
                "meets_4x": ours >= 4 * stock,
            }
        )
    return bars
