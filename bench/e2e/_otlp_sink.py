"""A local OTLP/HTTP sink for the ``vk-trio-traced`` contender: accepts every export, keeps
counts, decodes nothing.

It stands in for a collector on the same host, so the contender pays the whole cost of tracing
on its side (span creation, batching, protobuf encoding, the HTTP posts) while the sink costs as
little as a socket read. One sink per benchmark process, started on first use, on a daemon
thread.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

__all__ = ["TRACED_ENV", "sink_statistics", "sink_url"]

TRACED_ENV: Final = {
    # every span exported (no drop at a burst): the SDK's queue made big enough for one
    "OTEL_BSP_MAX_QUEUE_SIZE": "262144",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
    "OTEL_BSP_SCHEDULE_DELAY": "1000",
}
"""The traced contender's batch settings, beside the endpoint of the sink."""

_lock = threading.Lock()
_server: ThreadingHTTPServer | None = None
_counts = {"requests": 0, "bytes": 0}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        size = int(self.headers.get("content-length") or 0)
        self.rfile.read(size)
        with _lock:
            _counts["requests"] += 1
            _counts["bytes"] += size
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def sink_url() -> str:
    """The sink's base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``), started if it is not yet."""
    global _server  # noqa: PLW0603 - one sink per process
    with _lock:
        if _server is None:
            _server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            threading.Thread(target=_server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{_server.server_address[1]}"


def sink_statistics() -> dict[str, int]:
    with _lock:
        return dict(_counts)
