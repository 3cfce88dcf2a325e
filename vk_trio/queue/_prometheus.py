"""The stock :class:`MetricsProvider`: Prometheus metrics named as client-go names them."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import final

import attrs
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ._metrics import CounterMetric, GaugeMetric, HistogramMetric

__all__ = ["PrometheusMetricsProvider"]

#: client-go's buckets: ``ExponentialBuckets(10e-7, 10, 10)``, i.e. 1 µs … 1000 s.
DURATION_BUCKETS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


@final
@attrs.frozen
class _Families:
    depth: Gauge
    adds: Counter
    latency: Histogram
    work_duration: Histogram
    unfinished_work: Gauge
    longest_running: Gauge
    retries: Counter


def _make_families(registry: CollectorRegistry) -> _Families:
    label = ("name",)
    return _Families(
        depth=Gauge(
            "workqueue_depth", "Current depth of the work queue.", label, registry=registry
        ),
        adds=Counter(
            "workqueue_adds_total", "Items added to the work queue.", label, registry=registry
        ),
        latency=Histogram(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in the work queue before it is handed out.",
            label,
            registry=registry,
            buckets=DURATION_BUCKETS,
        ),
        work_duration=Histogram(
            "workqueue_work_duration_seconds",
            "Seconds spent processing an item taken from the work queue.",
            label,
            registry=registry,
            buckets=DURATION_BUCKETS,
        ),
        unfinished_work=Gauge(
            "workqueue_unfinished_work_seconds",
            "Seconds of work in progress that has not been marked done; a steady rise "
            "suggests stuck workers.",
            label,
            registry=registry,
        ),
        longest_running=Gauge(
            "workqueue_longest_running_processor_seconds",
            "Age in seconds of the item that has been processed for the longest time.",
            label,
            registry=registry,
        ),
        retries=Counter(
            "workqueue_retries_total",
            "Delayed re-adds handled by the work queue.",
            label,
            registry=registry,
        ),
    )


# A registry accepts each metric name once, so every provider on the same registry must share
# one set of metric families.  Keyed weakly so that throw-away registries (tests) are freed.
_families_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, _Families] = (
    weakref.WeakKeyDictionary()
)


@final
class PrometheusMetricsProvider:
    """Export queue metrics to a ``prometheus_client`` registry (the default one if ``None``).

    Metric names and the ``name`` label are client-go's, so dashboards built for Go controllers
    work unchanged.  ``workqueue_unfinished_work_seconds`` and
    ``workqueue_longest_running_processor_seconds`` are computed when the registry is collected
    (``Gauge.set_function``) rather than refreshed by a background task every 500 ms as in
    client-go: a trio library starts no hidden tasks, and the value is exact at scrape time.
    After a queue shuts down they keep the value they had then (as client-go's do).

    Several providers on one registry share the same metric families; give every queue a
    distinct name (two queues with one name share their series).
    """

    __slots__ = ("_families",)

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = REGISTRY if registry is None else registry
        families = _families_by_registry.get(registry)
        if families is None:
            families = _families_by_registry[registry] = _make_families(registry)
        self._families = families

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return self._families.depth.labels(name=name)

    def new_adds_metric(self, name: str) -> CounterMetric:
        return self._families.adds.labels(name=name)

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return self._families.latency.labels(name=name)

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return self._families.work_duration.labels(name=name)

    def new_unfinished_work_seconds_metric(self, name: str, read: Callable[[], float]) -> None:
        self._families.unfinished_work.labels(name=name).set_function(read)

    def new_longest_running_processor_seconds_metric(
        self, name: str, read: Callable[[], float]
    ) -> None:
        self._families.longest_running.labels(name=name).set_function(read)

    def new_retries_metric(self, name: str) -> CounterMetric:
        return self._families.retries.labels(name=name)
