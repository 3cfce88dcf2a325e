"""Queue metrics: the provider protocol and the per-queue bookkeeping behind it.

The metric set and its semantics are client-go's (``workqueue_depth``, ``..._adds_total``,
``..._queue_duration_seconds``, ``..._work_duration_seconds``, ``..._unfinished_work_seconds``,
``..._longest_running_processor_seconds``, ``..._retries_total``), so existing dashboards work.

One deliberate difference: client-go keeps the two "unfinished work" gauges current with a
goroutine that recomputes them every 500 ms.  A trio library must not start hidden background
tasks, so here the provider is handed a *reader* function instead of a settable gauge, and it
calls the reader when the metric is collected (Prometheus: on every scrape).  The value is thus
exact at scrape time rather than up to 500 ms old, and an idle queue costs nothing.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from typing import Protocol, final

import trio

__all__ = [
    "CounterMetric",
    "GaugeMetric",
    "HistogramMetric",
    "MetricsProvider",
]


class GaugeMetric(Protocol):
    """A gauge that goes up and down by one (the queue depth)."""

    def inc(self) -> None: ...

    def dec(self) -> None: ...


class CounterMetric(Protocol):
    """A monotonically increasing counter (adds, retries)."""

    def inc(self) -> None: ...


class HistogramMetric(Protocol):
    """A distribution of observed values in seconds (queue and work durations)."""

    def observe(self, value: float) -> None: ...


class MetricsProvider(Protocol):
    """Creates the metrics of one named queue; the queue's name is passed as *name*.

    Implement this to feed another metrics system; :class:`PrometheusMetricsProvider` is the
    stock implementation.  The ``..._seconds_metric`` methods for the two "unfinished work"
    gauges receive a *read* function that returns the current value; call it whenever the value
    is collected (it is cheap, and safe to call from another thread of the same process).

    A provider may also have an ``unregister(name: str) -> None`` method (it is optional, so
    providers written before it existed keep working).  The queue calls it exactly once: when
    it shuts down, or when it is garbage collected without having been shut down (then possibly
    from the garbage collector, in whatever thread triggered it).  Use it to drop the queue's
    series, so that queues created and discarded dynamically leave nothing behind.
    """

    def new_depth_metric(self, name: str) -> GaugeMetric:
        """Items that need processing: waiting ones plus those re-added while processing."""
        ...

    def new_adds_metric(self, name: str) -> CounterMetric:
        """Adds that made an item need processing (collapsed duplicates are not counted)."""
        ...

    def new_latency_metric(self, name: str) -> HistogramMetric:
        """Seconds an item waited between being added and being handed out."""
        ...

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        """Seconds between handing an item out and its ``done()``."""
        ...

    def new_unfinished_work_seconds_metric(self, name: str, read: Callable[[], float]) -> None:
        """Register the reader of: the sum of the ages of all items being processed."""
        ...

    def new_longest_running_processor_seconds_metric(
        self, name: str, read: Callable[[], float]
    ) -> None:
        """Register the reader of: the age of the oldest item being processed."""
        ...

    def new_retries_metric(self, name: str) -> CounterMetric:
        """Calls of ``add_after`` (and so of ``add_rate_limited``) on a live queue."""
        ...


@final
class _QueueMetrics:
    """The bookkeeping of one queue's metrics (client-go's ``defaultQueueMetrics``).

    Times come from ``trio.current_time()``, so ``MockClock`` drives them in tests.
    """

    __slots__ = (
        "__weakref__",
        "_add_times",
        "_clock_offset",
        "_frozen",
        "_start_times",
        "_unregister",
        "adds",
        "depth",
        "latency",
        "retries",
        "work_duration",
    )

    def __init__(self, provider: MetricsProvider, name: str) -> None:
        self.depth = provider.new_depth_metric(name)
        self.adds = provider.new_adds_metric(name)
        self.latency = provider.new_latency_metric(name)
        self.work_duration = provider.new_work_duration_metric(name)
        self.retries: CounterMetric | None = None
        self._add_times: dict[Hashable, float] = {}
        self._start_times: dict[Hashable, float] = {}
        # trio time minus perf_counter, to read trio's clock from a scraping thread.
        self._clock_offset: float | None = None
        self._frozen: tuple[float, float] | None = None
        # The readers reach this object through a weak reference: a provider holding them must
        # not keep a dropped queue's bookkeeping (and so its series) alive.
        ref = weakref.ref(self)

        def unfinished_work_seconds() -> float:
            metrics = ref()
            return 0.0 if metrics is None else metrics.unfinished_work_seconds()

        def longest_running_processor_seconds() -> float:
            metrics = ref()
            return 0.0 if metrics is None else metrics.longest_running_processor_seconds()

        provider.new_unfinished_work_seconds_metric(name, unfinished_work_seconds)
        provider.new_longest_running_processor_seconds_metric(
            name, longest_running_processor_seconds
        )
        unregister = getattr(provider, "unregister", None)
        self._unregister: weakref.finalize[..., _QueueMetrics] | None = None
        if callable(unregister):
            # The finalizer holds the provider and the name, not this object: it runs once,
            # either from shut_down() or when the queue is collected without a shutdown.
            self._unregister = weakref.finalize(self, unregister, name)
            self._unregister.atexit = False

    def add(self, item: Hashable) -> None:
        self.adds.inc()
        self.depth.inc()
        if item not in self._add_times:
            self._add_times[item] = trio.current_time()

    def get(self, item: Hashable) -> None:
        now = trio.current_time()
        self._clock_offset = now - time.perf_counter()
        self.depth.dec()
        self._start_times[item] = now
        added = self._add_times.pop(item, None)
        if added is not None:
            self.latency.observe(now - added)

    def done(self, item: Hashable) -> None:
        started = self._start_times.pop(item, None)
        if started is not None:
            self.work_duration.observe(trio.current_time() - started)

    def retry(self) -> None:
        if self.retries is not None:
            self.retries.inc()

    def shut_down(self) -> None:
        """Freeze the two unfinished-work gauges (client-go stops updating them at shutdown)
        and let the provider drop the queue's series."""
        self._frozen = self._unfinished()
        if self._unregister is not None:
            self._unregister()

    def unfinished_work_seconds(self) -> float:
        return self._unfinished()[0]

    def longest_running_processor_seconds(self) -> float:
        return self._unfinished()[1]

    def _unfinished(self) -> tuple[float, float]:
        if self._frozen is not None:
            return self._frozen
        # One C-level copy: safe against the trio thread changing the dict meanwhile.
        starts = list(self._start_times.values())
        if not starts:
            return (0.0, 0.0)
        now = self._now()
        total = 0.0
        oldest = 0.0
        for started in starts:
            age = now - started
            total += age
            oldest = max(oldest, age)
        return (total, oldest)

    def _now(self) -> float:
        try:
            return trio.current_time()
        except RuntimeError:
            # Collected outside the trio thread (e.g. a scrape served by another thread):
            # extrapolate trio's clock from the last reading taken inside the run.
            offset = self._clock_offset or 0.0
            return time.perf_counter() + offset
