"""Prometheus metrics of the pod controller.

Queue depths, adds, latencies and retries come from ``vk_trio.queue``'s metrics provider (client-go
names, label ``name``: ``pod_sync``, ``pod_status``, ``pod_delete``). Here are the controller's
own: how long one sync pass and one status write take, and how long each provider call takes,
labelled by outcome so a failing or slow provider is visible on a dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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
        self.status_writes = Counter(
            "vk_pod_status_writes",
            "Pod status patches sent, and status notifications that needed none.",
            ["outcome"],
            registry=registry,
        )

    @contextmanager
    def time_provider(self, method: str) -> Iterator[None]:
        """Time a provider call; the ``result`` label is ``ok`` or ``error``."""
        start = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self.provider_duration.labels(method=method, result=result).observe(
                time.perf_counter() - start
            )

    @contextmanager
    def time_sync(self) -> Iterator[None]:
        start = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self.sync_duration.labels(result=result).observe(time.perf_counter() - start)

    @contextmanager
    def time_status(self) -> Iterator[None]:
        start = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self.status_duration.labels(result=result).observe(time.perf_counter() - start)
