"""Queue metrics: our versions of client-go's metrics_test.go, with a recording provider."""

from __future__ import annotations

import threading

import pytest
import trio
import trio.testing

from tests.queue.helpers import RecordingProvider
from vk_trio.queue import RateLimitingQueue, WorkQueue


async def test_metrics_follow_adds_gets_and_dones(autojump_clock: trio.testing.MockClock) -> None:
    # TestMetrics
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="test", metrics=provider)
    m = provider.queues["test"]

    queue.add("foo")
    assert m.adds.value == 1
    assert m.depth.value == 1
    await trio.sleep(50e-6)

    item = queue.get_nowait()
    assert item == "foo"
    assert m.latency.observations == [pytest.approx(5e-05)]

    # Adds while processing: counted once (it is dirty once), depth back to 1.
    for _ in range(5):
        queue.add("foo")
    assert m.adds.value == 2
    assert m.depth.value == 1
    await trio.sleep(25e-6)

    queue.done(item)
    assert m.work_duration.observations == [pytest.approx(2.5e-05)]
    assert m.depth.value == 1  # re-queued, still needs processing

    item = queue.get_nowait()
    assert m.latency.observations == [pytest.approx(5e-05), pytest.approx(2.5e-05)]
    assert m.depth.value == 0

    await trio.sleep(0.001)
    assert m.unfinished_work() == pytest.approx(0.001)
    assert m.longest_running() == pytest.approx(0.001)

    queue.done(item)
    assert m.work_duration.observations[1] == pytest.approx(0.001)
    assert m.unfinished_work() == 0
    assert m.longest_running() == 0


async def test_unfinished_work_sums_ages_and_longest_takes_the_oldest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="u", metrics=provider)
    m = provider.queues["u"]
    queue.add("a")
    queue.add("b")
    queue.get_nowait()
    await trio.sleep(2)
    queue.get_nowait()
    await trio.sleep(1)
    assert m.unfinished_work() == pytest.approx(3 + 1)
    assert m.longest_running() == pytest.approx(3)


async def test_unfinished_work_stops_changing_after_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestMetricShutdown: no more unfinished-work updates once the queue is shut down.
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="s", metrics=provider)
    m = provider.queues["s"]
    queue.add("a")
    queue.get_nowait()
    await trio.sleep(1)
    queue.shut_down()
    await trio.sleep(3600)
    assert m.unfinished_work() == pytest.approx(1)
    assert m.longest_running() == pytest.approx(1)


async def test_depth_counts_items_re_added_while_processing_but_len_does_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="d", metrics=provider)
    queue.add("x")
    queue.get_nowait()
    queue.add("x")
    assert provider.queues["d"].depth.value == 1
    assert len(queue) == 0


async def test_an_item_handed_to_a_waiting_get_is_counted_as_a_get(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="h", metrics=provider)
    m = provider.queues["h"]

    async def add_later() -> None:
        await trio.sleep(1)
        queue.add("x")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(add_later)
        item = await queue.get()
    assert m.adds.value == 1
    assert m.depth.value == 0
    assert m.latency.observations == [0.0]
    await trio.sleep(0.5)
    queue.done(item)
    assert m.work_duration.observations == [0.5]


async def test_rate_limited_retries_are_counted(autojump_clock: trio.testing.MockClock) -> None:
    provider = RecordingProvider()
    queue: RateLimitingQueue[str] = RateLimitingQueue(name="r", metrics=provider)
    queue.add_rate_limited("x")
    queue.add_rate_limited("y")
    assert provider.queues["r"].retries.value == 2


def test_a_plain_queue_registers_no_retries_metric() -> None:
    provider = RecordingProvider()
    WorkQueue(name="plain", metrics=provider)
    RateLimitingQueue(name="limited", metrics=provider)
    assert provider.queues["plain"].retries.value == 0
    # Only the delaying queues asked for one (RecordingProvider creates entries on demand,
    # so check through a fresh provider that notes the calls).
    calls: list[str] = []

    class Noting(RecordingProvider):
        def new_retries_metric(self, name: str):  # type: ignore[no-untyped-def]
            calls.append(name)
            return super().new_retries_metric(name)

    noting = Noting()
    WorkQueue(name="plain", metrics=noting)
    RateLimitingQueue(name="limited", metrics=noting)
    assert calls == ["limited"]


async def test_unfinished_work_can_be_read_from_another_thread(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A Prometheus scrape may be served by a thread: the reader extrapolates trio's clock.
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="t", metrics=provider)
    m = provider.queues["t"]
    queue.add("x")
    queue.get_nowait()
    values: list[float] = []
    thread = threading.Thread(target=lambda: values.append(m.unfinished_work()))
    thread.start()
    thread.join()
    assert len(values) == 1
    assert values[0] >= 0.0


async def test_delayed_items_count_as_adds_when_they_become_due(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = RecordingProvider()
    queue: RateLimitingQueue[str] = RateLimitingQueue(name="late", metrics=provider)
    m = provider.queues["late"]
    queue.add_after("x", 1)
    assert m.adds.value == 0
    assert m.depth.value == 0
    await trio.sleep(1)
    assert len(queue) == 1
    assert m.adds.value == 1
    assert m.depth.value == 1
    await trio.sleep(0.5)
    item = await queue.get()  # the fast path of get() records the hand-out too
    assert m.depth.value == 0
    assert m.latency.observations == [0.5]
    queue.done(item)
