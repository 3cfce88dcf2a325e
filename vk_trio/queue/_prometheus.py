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
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import final

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

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


#: A provider's constant labels, sorted by name: part of every series' identity.
_LabelSet = tuple[tuple[str, str], ...]
#: One queue's series are identified by the provider's constant labels and the queue name.
_Key = tuple[_LabelSet, str]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# "name" is the queue's own label and "le" the histogram buckets'; "__" is reserved by Prometheus.
_RESERVED_LABELS = frozenset({"name", "le"})


def _label_set(const_labels: Mapping[str, str] | None) -> _LabelSet:
    if not const_labels:
        return ()
    for label, value in const_labels.items():
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
            raise ValueError(f"const_labels: {label!r} is not a valid Prometheus label name")
        if label in _RESERVED_LABELS or label.startswith("__"):
            raise ValueError(f"const_labels: the label name {label!r} is reserved")
        if not isinstance(value, str):
            raise ValueError(f"const_labels: the value of {label!r} must be a str, got {value!r}")
    return tuple(sorted(const_labels.items()))


@final
class _QueueSeries:
    """Every series of one queue (one name under one set of constant labels)."""

    __slots__ = (
        "adds",
        "claimed",
        "depth",
        "labels",
        "latency",
        "longest_running",
        "retries",
        "unfinished_work",
        "with_retries",
        "work_duration",
    )

    def __init__(self, key: _Key) -> None:
        const, name = key
        #: The label values of every sample of this queue, computed once.
        self.labels = {**dict(const), "name": name}
        #: Whether a live queue owns these series (see ``PrometheusMetricsProvider``).
        self.claimed = False
        self.with_retries = False
        self.depth = _Number()
        self.adds = _Number()
        self.retries = _Number()
        self.latency = _Histogram()
        self.work_duration = _Histogram()
        self.unfinished_work: Callable[[], float] = _zero
        self.longest_running: Callable[[], float] = _zero


@final
class _WorkqueueCollector(Collector):
    """Turns the queues' numbers into client-go-named metric families on each scrape.

    Series with different constant labels go into the same families (a registry accepts each
    metric name once); every sample carries its own label set, so families are built from
    samples rather than with a fixed list of label names.
    """

    def __init__(self) -> None:
        self.queues: dict[_Key, _QueueSeries] = {}

    def series(self, key: _Key) -> _QueueSeries:
        series = self.queues.get(key)
        if series is None:
            series = self.queues[key] = _QueueSeries(key)
        return series

    def claim(self, key: _Key) -> _QueueSeries:
        """Fresh series for a new queue; a live queue holding the same key is an error."""
        series = self.queues.get(key)
        if series is not None and series.claimed:
            const, name = key
            where = f" with constant labels {dict(const)}" if const else ""
            raise ValueError(
                f"a live queue named {name!r}{where} already exports metrics to this registry;"
                " shut it down first, or give the new queue another name or const_labels"
            )
        if series is None:
            series = self.queues[key] = _QueueSeries(key)
        series.claimed = True
        return series

    def unregister(self, key: _Key) -> None:
        self.queues.pop(key, None)

    def collect(self) -> Iterator[Metric]:
        queues = list(self.queues.values())  # one C-level copy: safe against concurrent adds
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of the work queue.")
        adds = CounterMetricFamily("workqueue_adds", "Items added to the work queue.")
        latency = HistogramMetricFamily(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in the work queue before it is handed out.",
        )
        work = HistogramMetricFamily(
            "workqueue_work_duration_seconds",
            "Seconds spent processing an item taken from the work queue.",
        )
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "Seconds of work in progress that has not been marked done; a steady rise "
            "suggests stuck workers.",
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "Age in seconds of the item that has been processed for the longest time.",
        )
        retries = CounterMetricFamily(
            "workqueue_retries", "Delayed re-adds handled by the work queue."
        )
        for s in queues:
            labels = s.labels
            depth.samples.append(Sample("workqueue_depth", labels, s.depth.value))
            adds.samples.append(Sample("workqueue_adds_total", labels, s.adds.value))
            _add_histogram(latency, labels, s.latency)
            _add_histogram(work, labels, s.work_duration)
            unfinished.samples.append(
                Sample("workqueue_unfinished_work_seconds", labels, s.unfinished_work())
            )
            longest.samples.append(
                Sample("workqueue_longest_running_processor_seconds", labels, s.longest_running())
            )
            if s.with_retries:
                retries.samples.append(Sample("workqueue_retries_total", labels, s.retries.value))
        yield from (depth, adds, latency, work, unfinished, longest, retries)

    def describe(self) -> Iterator[Metric]:
        # Registration only needs the names (so that duplicates are detected).
        return self.collect()


def _add_histogram(family: HistogramMetricFamily, labels: dict[str, str], h: _Histogram) -> None:
    counts = list(h.counts)
    total = h.sum
    name = family.name
    samples = family.samples
    cumulative = 0
    for le, count in zip(_BUCKET_LABELS, counts, strict=True):
        cumulative += count
        samples.append(Sample(f"{name}_bucket", {**labels, "le": le}, cumulative))
    samples.append(Sample(f"{name}_count", labels, cumulative))
    samples.append(Sample(f"{name}_sum", labels, total))


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

    *const_labels* are added to every series of every queue this provider creates metrics for,
    e.g. ``{"node": "vk-0"}``: two virtual nodes in one process, each with queues named
    ``pod_sync``, then export separate series instead of clashing.  Label names must be valid
    Prometheus names other than ``name`` and ``le``; values are strings.

    Lifecycle: a queue's series exist from its construction until it shuts down (``shut_down()``
    or ``shut_down_with_drain()``), or until it is garbage collected without having been shut
    down.  Queues created dynamically therefore leave nothing behind.  While a queue's series
    exist, creating another queue with the same name and the same constant labels on the same
    registry raises ``ValueError``: silently merging two queues' counts (what this provider did
    before, and what client-go does) makes both sets of numbers wrong, and an error at
    construction points at the mistake at once.  The name becomes free again when the first
    queue shuts down.

    ``workqueue_unfinished_work_seconds`` and ``workqueue_longest_running_processor_seconds``
    are computed when the registry is scraped, instead of being refreshed every 500 ms by a
    background task as in client-go: a trio library starts no hidden tasks, and the value is
    exact at scrape time.

    Several providers on one registry share one collector (and so the metric families).
    """

    __slots__ = ("_collector", "_const")

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        const_labels: Mapping[str, str] | None = None,
    ) -> None:
        self._const = _label_set(const_labels)
        registry = REGISTRY if registry is None else registry
        collector = _collectors.get(registry)
        if collector is None:
            collector = _WorkqueueCollector()
            registry.register(collector)
            _collectors[registry] = collector
        self._collector = collector

    @property
    def const_labels(self) -> dict[str, str]:
        """The constant labels added to every series (a copy)."""
        return dict(self._const)

    def new_depth_metric(self, name: str) -> _Number:
        """Claims *name* (see the class docstring): the first metric a queue asks for."""
        return self._collector.claim((self._const, name)).depth

    def new_adds_metric(self, name: str) -> _Number:
        return self._collector.series((self._const, name)).adds

    def new_latency_metric(self, name: str) -> _Histogram:
        return self._collector.series((self._const, name)).latency

    def new_work_duration_metric(self, name: str) -> _Histogram:
        return self._collector.series((self._const, name)).work_duration

    def new_unfinished_work_seconds_metric(self, name: str, read: Callable[[], float]) -> None:
        self._collector.series((self._const, name)).unfinished_work = read

    def new_longest_running_processor_seconds_metric(
        self, name: str, read: Callable[[], float]
    ) -> None:
        self._collector.series((self._const, name)).longest_running = read

    def new_retries_metric(self, name: str) -> _Number:
        series = self._collector.series((self._const, name))
        series.with_retries = True
        return series.retries

    def unregister(self, name: str) -> None:
        """Remove the series of the queue *name* (called by the queue when it shuts down)."""
        self._collector.unregister((self._const, name))
