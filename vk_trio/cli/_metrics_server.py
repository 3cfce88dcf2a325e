"""The plain-HTTP metrics and health endpoint behind ``--metrics-addr``.

The Go command accepts ``--metrics-addr`` and ignores it; we serve what an operator expects there:
``/metrics`` (our Prometheus registry: queue depths, sync/status/provider latencies, API
requests), ``/healthz`` (readiness: the node is registered and serving) and ``/livez``
(liveness: the process's event loop runs its tasks; see :class:`Liveness`). It is a tiny ASGI app
served by hypercorn, so it shares nothing with the kubelet API port and needs no TLS.

Readiness and liveness are separate on purpose: ``/healthz`` is 503 until the node has
registered, which waits for the API server and the cluster-wide informer lists, and a liveness
probe on it kills a process that is only slow to start (or waiting out an API server outage,
which restarting cannot fix). ``/livez`` never depends on the API server.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, final

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from ._settings import Address

__all__ = ["LIVENESS_STALE_AFTER", "LIVENESS_TICK", "Liveness", "metrics_app", "serve_metrics"]

LIVENESS_TICK: Final = 1.0
"""Seconds between the liveness ticker's beats."""

LIVENESS_STALE_AFTER: Final = 30.0
"""``/livez`` fails once the ticker has not beaten for this long."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@final
class Liveness:
    """A ticker in the process's root nursery: alive while it keeps beating.

    The request that reads it proves the HTTP task runs; the ticker proves the scheduler still
    gets round to the other tasks of the root nursery (a provider that blocks the loop with
    synchronous work, or a starved scheduler, stops it) and that the root nursery has not begun
    to wind down with the ticker cancelled. None of it involves the API server.
    """

    def __init__(self, *, stale_after: float = LIVENESS_STALE_AFTER) -> None:
        self._stale_after = stale_after
        self._last = -math.inf

    def alive(self) -> bool:
        return trio.current_time() - self._last < self._stale_after

    async def run(
        self,
        until: trio.Event,
        *,
        tick: float = LIVENESS_TICK,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Beat every ``tick`` seconds until ``until`` is set (the metrics server stops then)."""
        self._last = trio.current_time()
        task_status.started()
        while not until.is_set():
            with trio.move_on_after(tick):
                await until.wait()
            self._last = trio.current_time()


def metrics_app(
    registry: CollectorRegistry = REGISTRY,
    *,
    healthy: Callable[[], bool],
    alive: Callable[[], bool] = lambda: True,
) -> ASGIApp:
    """Build the ASGI app; ``healthy`` decides whether ``/healthz`` answers 200 or 503,
    ``alive`` the same for ``/livez``."""

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
        elif path == "/livez":
            ok = alive()
            status, ctype, body = (200 if ok else 503), b"text/plain", b"ok" if ok else b"stalled"
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
