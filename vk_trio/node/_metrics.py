"""Prometheus metrics of the pod controller.

Queue depths, adds, latencies and retries come from ``vk_trio.queue``'s metrics provider (client-go
names, label ``name``: ``pod_sync``, ``pod_status``, ``pod_delete``). Here are the controller's
own: how long one sync pass and one status write take, and how long each provider call takes,
labelled by outcome so a failing or slow provider is visible on a dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import final

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["PodControllerMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@final
class PodControllerMetrics:
    """The controller's metric families, registered on ``registry`` (the default if ``None``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = REGISTRY if registry is None else registry
        self.registry = registry
        self.sync_duration = Histogram(
            "vk_pod_sync_duration_seconds",
            "Time to reconcile one pod with the provider (one pass of the sync queue).",
            ["result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.status_duration = Histogram(
            "vk_pod_status_update_duration_seconds",
            "Time to write one pod's status from the provider to the API server.",
            ["result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.provider_duration = Histogram(
            "vk_provider_call_duration_seconds",
            "Duration of calls into the provider.",
            ["method", "result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Histogram] = {}
        self._counters: dict[str, Counter] = {}
        self.status_writes = Counter(
            "vk_pod_status_writes",
            "Pod status patches sent, and status notifications that needed none.",
            ["outcome"],
            registry=registry,
        )

    def _child(self, family: Histogram, *labels: str) -> Histogram:
        # ``labels()`` costs a lock and a dict build per call: cache the children
        child = self._children.get((id(family), labels))
        if child is None:
            child = self._children[id(family), labels] = family.labels(*labels)
        return child

    @contextmanager
    def _timed(self, family: Histogram, *labels: str) -> Iterator[None]:
        start = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self._child(family, *labels, result).observe(time.perf_counter() - start)

    def count_status(self, outcome: str) -> None:
        """A status notification that was ``written`` or ``skipped`` (no difference)."""
        child = self._counters.get(outcome)
        if child is None:
            child = self._counters[outcome] = self.status_writes.labels(outcome)
        child.inc()

    def time_provider(self, method: str) -> AbstractContextManager[None]:
        """Time a provider call; the ``result`` label is ``ok`` or ``error``."""
        return self._timed(self.provider_duration, method)

    def time_sync(self) -> AbstractContextManager[None]:
        return self._timed(self.sync_duration)

    def time_status(self) -> AbstractContextManager[None]:
        return self._timed(self.status_duration)
