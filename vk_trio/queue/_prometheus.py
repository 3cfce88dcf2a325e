"""The stock :class:`MetricsProvider`: Prometheus metrics named as client-go names them.

Why a custom collector instead of ``prometheus_client``'s ``Counter``/``Gauge``/``Histogram``:
those take a ``threading.Lock`` on every update, which made one add → get → done cycle with
metrics cost about 13 µs (seven locked updates).  A queue is only ever updated from its trio
thread, so the values here are plain Python numbers updated without locks, and a collector
turns them into metric families when the registry is scraped.  A scrape from another thread
reads them between two bytecodes; it may see one update more or less, never a torn value.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable, Iterator
from typing import final

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = ["DURATION_BUCKETS", "PrometheusMetricsProvider"]

#: client-go's buckets: ``ExponentialBuckets(10e-7, 10, 10)``, i.e. 1 µs … 1000 s.
DURATION_BUCKETS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
# The ``le`` labels as prometheus_client writes them for its own histograms ("1e-06" … "1000.0").
_BUCKET_LABELS = [repr(b) for b in DURATION_BUCKETS] + ["+Inf"]


@final
class _Number:
    """A counter or gauge: one float, no lock (updated from one trio thread only)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


@final
class _Histogram:
    """Per-bucket counts (not cumulative) plus the sum; cumulated when collected."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: the first bucket whose upper bound is >= value ("le" semantics).
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.sum += value


def _zero() -> float:
    return 0.0


@final
class _QueueSeries:
    """Every series of one queue name."""

    __slots__ = (
        "adds",
        "depth",
        "latency",
        "longest_running",
        "retries",
        "unfinished_work",
        "work_duration",
    )

    def __init__(self) -> None:
        self.depth = _Number()
        self.adds = _Number()
        self.retries = _Number()
        self.latency = _Histogram()
        self.work_duration = _Histogram()
        self.unfinished_work: Callable[[], float] = _zero
        self.longest_running: Callable[[], float] = _zero


@final
class _WorkqueueCollector(Collector):
    """Turns the queues' numbers into client-go-named metric families on each scrape."""

    def __init__(self) -> None:
        self.queues: dict[str, _QueueSeries] = {}
        self.with_retries: set[str] = set()

    def series(self, name: str) -> _QueueSeries:
        series = self.queues.get(name)
        if series is None:
            series = self.queues[name] = _QueueSeries()
        return series

    def collect(self) -> Iterator[Metric]:
        queues = list(self.queues.items())  # one C-level copy: safe against concurrent adds
        with_retries = set(self.with_retries)
        depth = GaugeMetricFamily(
            "workqueue_depth", "Current depth of the work queue.", labels=["name"]
        )
        adds = CounterMetricFamily(
            "workqueue_adds", "Items added to the work queue.", labels=["name"]
        )
        latency = HistogramMetricFamily(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in the work queue before it is handed out.",
            labels=["name"],
        )
        work = HistogramMetricFamily(
            "workqueue_work_duration_seconds",
            "Seconds spent processing an item taken from the work queue.",
            labels=["name"],
        )
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "Seconds of work in progress that has not been marked done; a steady rise "
            "suggests stuck workers.",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "Age in seconds of the item that has been processed for the longest time.",
            labels=["name"],
        )
        retries = CounterMetricFamily(
            "workqueue_retries", "Delayed re-adds handled by the work queue.", labels=["name"]
        )
        for name, s in queues:
            labels = [name]
            depth.add_metric(labels, s.depth.value)
            adds.add_metric(labels, s.adds.value)
            _add_histogram(latency, labels, s.latency)
            _add_histogram(work, labels, s.work_duration)
            unfinished.add_metric(labels, s.unfinished_work())
            longest.add_metric(labels, s.longest_running())
            if name in with_retries:
                retries.add_metric(labels, s.retries.value)
        yield from (depth, adds, latency, work, unfinished, longest, retries)

    def describe(self) -> Iterator[Metric]:
        # Registration only needs the names (so that duplicates are detected).
        return self.collect()


def _add_histogram(family: HistogramMetricFamily, labels: list[str], h: _Histogram) -> None:
    counts = list(h.counts)
    total = h.sum
    cumulative = 0
    buckets: list[tuple[str, float]] = []
    for label, count in zip(_BUCKET_LABELS, counts, strict=True):
        cumulative += count
        buckets.append((label, cumulative))
    family.add_metric(labels, buckets, total)


# A registry accepts each metric name once, so every provider on the same registry must share
# one collector.  Keyed weakly so that throw-away registries (tests) are freed.
_collectors: weakref.WeakKeyDictionary[CollectorRegistry, _WorkqueueCollector] = (
    weakref.WeakKeyDictionary()
)


@final
class PrometheusMetricsProvider:
    """Export queue metrics to a ``prometheus_client`` registry (the default one if ``None``).

    Metric names and the ``name`` label are client-go's (``workqueue_depth``,
    ``workqueue_adds_total``, ``workqueue_queue_duration_seconds``,
    ``workqueue_work_duration_seconds``, ``workqueue_unfinished_work_seconds``,
    ``workqueue_longest_running_processor_seconds``, ``workqueue_retries_total``; histogram
    buckets 1 µs … 1000 s), so dashboards built for Go controllers work unchanged.

    ``workqueue_unfinished_work_seconds`` and ``workqueue_longest_running_processor_seconds``
    are computed when the registry is scraped, instead of being refreshed every 500 ms by a
    background task as in client-go: a trio library starts no hidden tasks, and the value is
    exact at scrape time.  After a queue shuts down they keep the value they had then (client-go
    stops refreshing them too).

    Several providers on one registry share one collector; give every queue a distinct name
    (two queues with one name share their series).
    """

    __slots__ = ("_collector",)

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = REGISTRY if registry is None else registry
        collector = _collectors.get(registry)
        if collector is None:
            collector = _WorkqueueCollector()
            registry.register(collector)
            _collectors[registry] = collector
        self._collector = collector

    def new_depth_metric(self, name: str) -> _Number:
        return self._collector.series(name).depth

    def new_adds_metric(self, name: str) -> _Number:
        return self._collector.series(name).adds

    def new_latency_metric(self, name: str) -> _Histogram:
        return self._collector.series(name).latency

    def new_work_duration_metric(self, name: str) -> _Histogram:
        return self._collector.series(name).work_duration

    def new_unfinished_work_seconds_metric(self, name: str, read: Callable[[], float]) -> None:
        self._collector.series(name).unfinished_work = read

    def new_longest_running_processor_seconds_metric(
        self, name: str, read: Callable[[], float]
    ) -> None:
        self._collector.series(name).longest_running = read

    def new_retries_metric(self, name: str) -> _Number:
        self._collector.with_retries.add(name)
        return self._collector.series(name).retries
