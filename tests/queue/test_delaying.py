"""DelayingQueue: our versions of client-go's delaying_queue_test.go plus the lazy-timer paths.

Every test runs on trio's MockClock (``autojump_clock``): ``trio.sleep`` jumps virtual time,
nothing waits for real.
"""

from __future__ import annotations

import math
import random

import pytest
import trio
import trio.testing

from tests.queue.helpers import RecordingProvider
from vk_trio.queue import DelayingQueue, QueueShutDown


async def test_item_becomes_ready_once_its_delay_has_passed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestSimpleQueue
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("foo", 0.050)
    assert len(queue) == 0
    await trio.sleep(0.060)
    assert len(queue) == 1
    item = queue.get_nowait()
    queue.done(item)
    await trio.sleep(10)  # well past client-go's 10 s heartbeat: nothing comes back
    assert len(queue) == 0
    assert queue.statistics().delayed == 0


async def test_earliest_add_after_wins_and_later_duplicates_are_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestDeduping
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("foo", 0.050)
    queue.add_after("foo", 0.070)  # later: ignored
    assert queue.statistics().delayed == 1
    await trio.sleep(0.060)
    assert len(queue) == 1
    queue.done(queue.get_nowait())
    await trio.sleep(0.020)  # past the ignored 70 ms
    assert len(queue) == 0

    queue.add_after("foo", 0.050)
    queue.add_after("foo", 0.030)  # earlier: wins
    assert queue.statistics().delayed == 1
    await trio.sleep(0.040)
    assert len(queue) == 1
    queue.done(queue.get_nowait())
    await trio.sleep(0.020)  # past the superseded 50 ms
    assert len(queue) == 0


async def test_items_fire_at_their_own_times_regardless_of_add_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestAddTwoFireEarly
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("foo", 1)
    queue.add_after("bar", 0.050)
    await trio.sleep(0.060)
    assert len(queue) == 1
    assert queue.get_nowait() == "bar"
    queue.add_after("baz", 2)
    await trio.sleep(1)
    assert len(queue) == 1
    assert queue.get_nowait() == "foo"
    await trio.sleep(2)
    assert len(queue) == 1
    assert queue.get_nowait() == "baz"


async def test_items_that_became_due_together_come_out_in_ready_time_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestCopyShifting
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("foo", 1)
    queue.add_after("bar", 0.5)
    queue.add_after("baz", 0.25)
    await trio.sleep(2)
    assert len(queue) == 3
    assert [queue.get_nowait() for _ in range(3)] == ["baz", "bar", "foo"]


async def test_many_random_delays_all_arrive_in_time_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # BenchmarkDelayingQueue_AddAfter, as a correctness check.
    rng = random.Random(7)
    queue: DelayingQueue[int] = DelayingQueue()
    delays = {i: rng.uniform(0, 600) for i in range(2000)}
    for item, delay in delays.items():
        queue.add_after(item, delay)
    await trio.sleep(660)
    assert len(queue) == len(delays)
    out = [queue.get_nowait() for _ in range(len(delays))]
    assert out == sorted(delays, key=delays.__getitem__)


async def test_a_waiting_get_wakes_exactly_at_the_earliest_ready_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("late", 5)
    queue.add_after("early", 2)
    assert await queue.get() == "early"
    assert trio.current_time() == 2.0
    assert await queue.get() == "late"
    assert trio.current_time() == 5.0


async def test_an_earlier_add_after_rearms_a_waiting_get(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    got: list[tuple[str, float]] = []

    async def waiter() -> None:
        got.append((await queue.get(), trio.current_time()))

    queue.add_after("late", 10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.add_after("early", 3)  # the parked waiter's deadline moves to t=3
    assert got == [("early", 3.0)]


async def test_add_after_while_a_get_waits_without_timer_wakes_it_at_the_ready_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    got: list[tuple[str, float]] = []

    async def waiter() -> None:
        got.append((await queue.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)  # parks with nothing delayed: no timer
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.add_after("a", 1)
        queue.add_after("b", 2)
    assert got == [("a", 1.0), ("b", 2.0)]


async def test_waiters_are_served_in_order_when_delayed_items_become_due(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[int] = DelayingQueue()
    received: dict[int, tuple[int, float]] = {}

    async def waiter(n: int) -> None:
        received[n] = (await queue.get(), trio.current_time())

    for item in range(4):
        queue.add_after(item, 1 + item)
    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(waiter, n)
            await trio.testing.wait_all_tasks_blocked()
    assert received == {0: (0, 1.0), 1: (1, 2.0), 2: (2, 3.0), 3: (3, 4.0)}


async def test_items_due_at_the_same_time_go_to_waiters_in_line_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    received: dict[int, str] = {}

    async def waiter(n: int) -> None:
        received[n] = await queue.get()

    for item in ["x", "y", "z"]:
        queue.add_after(item, 1)
    async with trio.open_nursery() as nursery:
        for n in range(3):
            nursery.start_soon(waiter, n)
            await trio.testing.wait_all_tasks_blocked()
    assert received == {0: "x", 1: "y", 2: "z"}


async def test_cancelling_the_first_waiter_passes_the_timer_to_the_next(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("x", 5)
    got: list[tuple[str, float]] = []
    first = trio.CancelScope()

    async def waiter(scope: trio.CancelScope | None) -> None:
        if scope is None:
            got.append((await queue.get(), trio.current_time()))
        else:
            with scope:
                got.append((await queue.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, first)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter, None)
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(1)
        first.cancel()
    assert got == [("x", 5.0)]
    assert first.cancelled_caught


async def test_a_due_item_that_collapses_keeps_the_waiter_waiting_for_the_next(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add("busy")
    busy = queue.get_nowait()  # being processed
    queue.add_after("busy", 1)  # at t=1 this only marks it for re-processing
    queue.add_after("other", 2)
    got: list[tuple[str, float]] = []

    async def waiter() -> None:
        got.append((await queue.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(1.5)
        assert got == []
        assert queue.statistics().requeue_on_done == 1
    assert got == [("other", 2.0)]
    queue.done(busy)
    assert queue.get_nowait() == "busy"


async def test_a_waiter_cancelled_by_an_outer_scope_while_its_timer_fires_loses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("x", 1)
    result: list[object] = []
    with trio.move_on_at(1):  # same instant as the item's ready time
        result.append(await queue.get())
    taken = result or [queue.get_nowait()]
    assert taken == ["x"]


def test_add_after_with_non_positive_delay_adds_at_once() -> None:
    # No trio run needed: delay <= 0 never looks at the clock.
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("zero", 0)
    queue.add_after("negative", -1)
    assert len(queue) == 2


async def test_items_pending_in_add_after_are_dropped_at_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("pending", 1)
    queue.add("ready")
    queue.shut_down()
    assert queue.statistics().delayed == 0
    queue.add_after("late", 1)  # ignored
    await trio.sleep(2)
    assert queue.get_nowait() == "ready"
    with pytest.raises(QueueShutDown):
        queue.get_nowait()


async def test_shutdown_wakes_a_get_that_waits_for_a_delayed_item(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("pending", 10)
    async with trio.open_nursery() as nursery:

        async def shut_down_later() -> None:
            await trio.sleep(1)
            queue.shut_down()

        nursery.start_soon(shut_down_later)
        with pytest.raises(QueueShutDown):
            await queue.get()
    assert trio.current_time() == 1.0


async def test_an_infinite_delay_never_fires(autojump_clock: trio.testing.MockClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("never", math.inf)
    await trio.sleep(86400 * 365)  # a year of virtual time
    assert len(queue) == 0
    assert queue.statistics().delayed == 1


def test_a_nan_delay_is_rejected() -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    with pytest.raises(ValueError, match="NaN"):
        queue.add_after("x", math.nan)


async def test_an_add_after_of_an_already_waiting_item_collapses_when_due(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add("x")
    queue.add_after("x", 1)
    await trio.sleep(1)
    assert len(queue) == 1
    assert queue.statistics().delayed == 0


async def test_a_due_item_is_queued_before_a_later_add(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("delayed", 1)
    await trio.sleep(2)
    queue.add("fresh")  # the promotion happens first, so "delayed" is ahead
    assert [queue.get_nowait(), queue.get_nowait()] == ["delayed", "fresh"]


async def test_every_add_after_counts_as_a_retry(autojump_clock: trio.testing.MockClock) -> None:
    provider = RecordingProvider()
    queue: DelayingQueue[str] = DelayingQueue(name="d", metrics=provider)
    queue.add_after("a", 1)
    queue.add_after("a", 2)
    queue.add_after("b", 0)
    assert provider.queues["d"].retries.value == 3
    queue.shut_down()
    queue.add_after("c", 1)
    assert provider.queues["d"].retries.value == 3


async def test_a_waiter_stays_in_line_when_the_only_delayed_item_collapses(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add("busy")
    busy = queue.get_nowait()
    queue.add_after("busy", 1)  # fires into the processing item: nothing new to hand out
    got: list[tuple[str, float]] = []

    async def waiter() -> None:
        got.append((await queue.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(3)
        assert got == []
        assert queue.statistics().tasks_waiting == 1
        queue.done(busy)  # re-queued, and handed to the waiter
    assert got == [("busy", 3.0)]


async def test_a_superseded_schedule_that_is_also_due_is_skipped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("x", 2)
    queue.add_after("x", 1)
    queue.add_after("y", 1.5)
    await trio.sleep(3)  # all three schedules are due at once
    assert [queue.get_nowait(), queue.get_nowait()] == ["x", "y"]
    assert len(queue) == 0


async def test_shutdown_reaches_a_waiter_that_was_woken_to_rearm_its_timer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    results: list[str] = []

    async def waiter() -> None:
        try:
            await queue.get()
        except QueueShutDown:
            results.append("shut down")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.add_after("x", 1)  # wakes the waiter to park again with a deadline ...
        queue.shut_down()  # ... and the shutdown arrives before it runs
    assert results == ["shut down"]


async def test_an_item_arriving_while_the_waiter_rearms_goes_to_that_waiter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    received: dict[str, str] = {}

    async def waiter(name: str) -> None:
        received[name] = await queue.get()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, "first")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter, "second")
        await trio.testing.wait_all_tasks_blocked()
        queue.add_after("later", 1)  # "first" is woken to re-arm; it keeps its place ...
        queue.add("now")  # ... so this goes to "first", not "second"
    assert received == {"first": "now", "second": "later"}


def test_the_name_is_exposed() -> None:
    assert DelayingQueue(name="pods").name == "pods"
    assert DelayingQueue[str]().name is None
