"""The metrics port on a real listener and its endpoints: ``--metrics-addr HOST:0`` binds any free
port; /healthz is readiness, /livez liveness (issue 13.11)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import trio
import trio.testing

from vk_trio.cli._metrics_server import LIVENESS_STALE_AFTER, Liveness, metrics_app, serve_metrics
from vk_trio.cli._settings import Address


async def http_get(port: int, path: str) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := await stream.receive_some():
            answer += chunk
    return answer


async def test_port_zero_binds_a_free_port_and_reports_it() -> None:
    shutdown = trio.Event()
    app = metrics_app(healthy=lambda: True)
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            lambda task_status: serve_metrics(
                Address("127.0.0.1", 0), app, shutdown=shutdown, task_status=task_status
            )
        )
        (url,) = urls
        port = urlsplit(url).port
        assert port is not None and port > 0
        health = await http_get(port, "/healthz")
        assert health.startswith(b"HTTP/1.1 200")
        assert health.endswith(b"ok")
        shutdown.set()


async def get(app: Any, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": path}, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def test_livez_does_not_depend_on_readiness() -> None:
    app = metrics_app(healthy=lambda: False, alive=lambda: True)
    assert await get(app, "/healthz") == (503, b"not ready")
    assert await get(app, "/livez") == (200, b"ok")
    stalled = metrics_app(healthy=lambda: True, alive=lambda: False)
    assert await get(stalled, "/livez") == (503, b"stalled")
    assert await get(stalled, "/healthz") == (200, b"ok")


async def test_liveness_follows_the_ticker(autojump_clock: trio.testing.MockClock) -> None:
    liveness = Liveness()
    assert not liveness.alive()  # never started
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(liveness.run, stop)
        await trio.sleep(LIVENESS_STALE_AFTER * 10)  # a long start-up: still alive
        assert liveness.alive()
        stop.set()
    # the ticker stopped (a stalled loop looks the same to the probe): dead after the bound
    await trio.sleep(LIVENESS_STALE_AFTER / 2)
    assert liveness.alive()
    await trio.sleep(LIVENESS_STALE_AFTER)
    assert not liveness.alive()
