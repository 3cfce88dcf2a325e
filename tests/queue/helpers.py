"""Test helpers for the queue tests: a metrics provider that records what it is told."""

from __future__ import annotations

from collections.abc import Callable

import attrs


@attrs.define
class RecordedGauge:
    value: float = 0.0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


@attrs.define
class RecordedCounter:
    value: float = 0.0

    def inc(self) -> None:
        self.value += 1


@attrs.define
class RecordedHistogram:
    observations: list[float] = attrs.field(factory=list)

    def observe(self, value: float) -> None:
        self.observations.append(value)


@attrs.define
class RecordedQueueMetrics:
    depth: RecordedGauge = attrs.field(factory=RecordedGauge)
    adds: RecordedCounter = attrs.field(factory=RecordedCounter)
    latency: RecordedHistogram = attrs.field(factory=RecordedHistogram)
    work_duration: RecordedHistogram = attrs.field(factory=RecordedHistogram)
    retries: RecordedCounter = attrs.field(factory=RecordedCounter)
    read_unfinished_work: Callable[[], float] | None = None
    read_longest_running: Callable[[], float] | None = None

    def unfinished_work(self) -> float:
        assert self.read_unfinished_work is not None
        return self.read_unfinished_work()

    def longest_running(self) -> float:
        assert self.read_longest_running is not None
        return self.read_longest_running()


@attrs.define
class RecordingProvider:
    """A MetricsProvider keeping every queue's metrics in ``queues[name]``."""

    queues: dict[str, RecordedQueueMetrics] = attrs.field(factory=dict)

    def _for(self, name: str) -> RecordedQueueMetrics:
        return self.queues.setdefault(name, RecordedQueueMetrics())

    def new_depth_metric(self, name: str) -> RecordedGauge:
        return self._for(name).depth

    def new_adds_metric(self, name: str) -> RecordedCounter:
        return self._for(name).adds

    def new_latency_metric(self, name: str) -> RecordedHistogram:
        return self._for(name).latency

    def new_work_duration_metric(self, name: str) -> RecordedHistogram:
        return self._for(name).work_duration

    def new_unfinished_work_seconds_metric(self, name: str, read: Callable[[], float]) -> None:
        self._for(name).read_unfinished_work = read

    def new_longest_running_processor_seconds_metric(
        self, name: str, read: Callable[[], float]
    ) -> None:
        self._for(name).read_longest_running = read

    def new_retries_metric(self, name: str) -> RecordedCounter:
        return self._for(name).retries
