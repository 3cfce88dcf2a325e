"""The metrics endpoint on a real listener: ``--metrics-addr HOST:0`` binds any free port."""

from __future__ import annotations

from urllib.parse import urlsplit

import trio

from vk_trio.cli._metrics_server import metrics_app, serve_metrics
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
