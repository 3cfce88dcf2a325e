"""Prometheus metrics of the pod controller, one set of series per node.

Queue depths, adds, latencies and retries come from ``vk_trio.queue``'s metrics provider (client-go
names, label ``name``: ``pod_sync``, ``pod_status``, ``pod_delete``; :class:`~.VirtualNode` gives
it the constant label ``node``). Here are the controller's own: how long one sync pass and one
status write take, and how long each provider call takes, labelled by outcome so a failing or slow
provider is visible on a dashboard.

Many nodes per process: every series carries a ``node`` label, and the metric families are
registered once per registry and shared by every node's :class:`PodControllerMetrics` (a registry
accepts each metric name once; a second node registering its own families is what raised
``DuplicateTimeseries``). A label rather than a registry per node, because one ``/metrics``
endpoint serves one registry and dashboards select or sum nodes by label; per-node registries
would need a collector that merges them again. :meth:`PodControllerMetrics.close` removes a
node's series when the node goes away.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import final

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["PodControllerMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@final
class _Families:
    """The metric families of one registry, shared by the nodes that export to it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sync_duration = Histogram(
            "vk_pod_sync_duration_seconds",
            "Time to reconcile one pod with the provider (one pass of the sync queue).",
            ["node", "result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.status_duration = Histogram(
            "vk_pod_status_update_duration_seconds",
            "Time to write one pod's status from the provider to the API server.",
            ["node", "result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.provider_duration = Histogram(
            "vk_provider_call_duration_seconds",
            "Duration of calls into the provider.",
            ["node", "method", "result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.status_writes = Counter(
            "vk_pod_status_writes",
            "Pod status patches sent, and status notifications that needed none.",
            ["node", "outcome"],
            registry=registry,
        )


# Weak keys: throw-away registries (tests) are freed with their families.
_families: weakref.WeakKeyDictionary[CollectorRegistry, _Families] = weakref.WeakKeyDictionary()


@final
class PodControllerMetrics:
    """One node's series (label ``node``) on ``registry`` (the default registry if ``None``)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, node: str) -> None:
        registry = REGISTRY if registry is None else registry
        self.registry = registry
        self.node = node
        families = _families.get(registry)
        if families is None:
            families = _families[registry] = _Families(registry)
        self.sync_duration = families.sync_duration
        self.status_duration = families.status_duration
        self.provider_duration = families.provider_duration
        self.status_writes = families.status_writes
        self._children: dict[tuple[int, tuple[str, ...]], Histogram] = {}
        self._counters: dict[str, Counter] = {}

    def _child(self, family: Histogram, *labels: str) -> Histogram:
        # ``labels()`` costs a lock and a dict build per call: cache the children
        child = self._children.get((id(family), labels))
        if child is None:
            child = self._children[id(family), labels] = family.labels(self.node, *labels)
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
            child = self._counters[outcome] = self.status_writes.labels(self.node, outcome)
        child.inc()

    def time_provider(self, method: str) -> AbstractContextManager[None]:
        """Time a provider call; the ``result`` label is ``ok`` or ``error``."""
        return self._timed(self.provider_duration, method)

    def time_sync(self) -> AbstractContextManager[None]:
        return self._timed(self.sync_duration)

    def time_status(self) -> AbstractContextManager[None]:
        return self._timed(self.status_duration)

    def close(self) -> None:
        """Remove this node's series (the node is gone from the process)."""
        families = {id(f): f for f in (self.sync_duration, self.status_duration)}
        families[id(self.provider_duration)] = self.provider_duration
        for family_id, labels in self._children:
            family = families[family_id]
            family.remove(self.node, *labels)
        for outcome in self._counters:
            self.status_writes.remove(self.node, outcome)
        self._children.clear()
        self._counters.clear()
