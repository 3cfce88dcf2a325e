"""The plain-HTTP metrics and health endpoint behind ``--metrics-addr``.

The Go command accepts ``--metrics-addr`` and ignores it; we serve what an operator expects there:
``/metrics`` (our Prometheus registry: queue depths, sync/status/provider latencies, API
requests) and ``/healthz``.  It is a tiny ASGI app served by hypercorn, so it shares nothing with
the kubelet API port and needs no TLS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from ._settings import Address

__all__ = ["metrics_app", "serve_metrics"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_app(registry: CollectorRegistry = REGISTRY, *, healthy: Callable[[], bool]) -> ASGIApp:
    """Build the ASGI app; ``healthy`` decides whether ``/healthz`` answers 200 or 503."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            status, ctype, body = 405, b"text/plain", b"method not allowed\n"
        elif path == "/metrics":
            status, ctype, body = 200, CONTENT_TYPE_LATEST.encode(), generate_latest(registry)
        elif path == "/healthz":
            ok = healthy()
            status, ctype, body = (200 if ok else 503), b"text/plain", b"ok" if ok else b"not ready"
        else:
            status, ctype, body = 404, b"text/plain", b"404 page not found\n"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})

    return app


async def serve_metrics(
    address: Address,
    app: ASGIApp,
    *,
    shutdown: trio.Event,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``address`` until ``shutdown`` is set; reports the bound URLs."""
    config = Config()
    config.bind = [str(address) if address.host else f"0.0.0.0:{address.port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    await serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)  # type: ignore[arg-type]
