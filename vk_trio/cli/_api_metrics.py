"""API request latencies as Prometheus metrics, fed by the ``KubeClient`` observer seam."""

from __future__ import annotations

from typing import final

from prometheus_client import REGISTRY, CollectorRegistry, Histogram

__all__ = ["ApiRequestMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@final
class ApiRequestMetrics:
    """``vk_trio_api_request_duration_seconds{verb,code}``: one observation per attempt.

    ``code`` is the HTTP status, or ``"0"`` when no answer came (connection failure), so retries
    and throttling (429) are visible next to the latency they cost.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._histogram = Histogram(
            "vk_trio_api_request_duration_seconds",
            "Kubernetes API request latency per attempt, by HTTP verb and status code.",
            ("verb", "code"),
            buckets=_BUCKETS,
            registry=REGISTRY if registry is None else registry,
        )
        self._children: dict[tuple[str, int], object] = {}

    def observe(self, verb: str, code: int, seconds: float) -> None:
        """The ``KubeClient`` observer: record one attempt."""
        key = (verb, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._histogram.labels(verb, str(code))
        child.observe(seconds)  # type: ignore[attr-defined]
