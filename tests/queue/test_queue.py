"""WorkQueue: our versions of client-go's queue_test.go plus the trio-specific behaviour."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from tests.queue.helpers import RecordingProvider
from vk_trio.queue import QueueShutDown, QueueStatistics, WorkQueue

ShutDown = Callable[[WorkQueue[object]], Awaitable[None]]


async def _shut_down(queue: WorkQueue[object]) -> None:
    queue.shut_down()


async def _shut_down_with_drain(queue: WorkQueue[object]) -> None:
    await queue.shut_down_with_drain()


BOTH_SHUTDOWNS = pytest.mark.parametrize(
    "shut_down", [_shut_down, _shut_down_with_drain], ids=["shut_down", "with_drain"]
)


# ------------------------------------------------------------------ client-go queue_test.go


@BOTH_SHUTDOWNS
async def test_many_producers_and_consumers_then_shutdown_ignores_late_adds(
    autojump_clock: trio.testing.MockClock, shut_down: ShutDown
) -> None:
    # TestBasic: 50 producers add 50 times each, 10 consumers process with a delay.
    queue: WorkQueue[object] = WorkQueue()
    processed: list[object] = []

    async def producer(i: int) -> None:
        for _ in range(50):
            queue.add(i)
            await trio.sleep(0.001)

    async def consumer() -> None:
        while True:
            try:
                item = await queue.get()
            except QueueShutDown:
                return
            assert item != "added after shutdown!"
            processed.append(item)
            await trio.sleep(0.003)
            queue.done(item)

    async with trio.open_nursery() as consumers:
        for _ in range(10):
            consumers.start_soon(consumer)
        async with trio.open_nursery() as producers:
            for i in range(50):
                producers.start_soon(producer, i)
        await shut_down(queue)
        queue.add("added after shutdown!")
    assert len(queue) == 0
    assert set(processed) == set(range(50))
    assert "added after shutdown!" not in processed


@BOTH_SHUTDOWNS
async def test_item_re_added_while_processing_is_processed_again(
    autojump_clock: trio.testing.MockClock, shut_down: ShutDown
) -> None:
    # TestAddWhileProcessing: consumers re-add every item until they have seen it twice.
    queue: WorkQueue[object] = WorkQueue()
    seen_by_consumer: list[dict[object, int]] = []

    async def consumer() -> None:
        counters: dict[object, int] = {}
        seen_by_consumer.append(counters)
        while True:
            try:
                item = await queue.get()
            except QueueShutDown:
                return
            counters[item] = counters.get(item, 0) + 1
            if counters[item] < 2:
                queue.add(item)
            await trio.sleep(0.001)
            queue.done(item)

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(consumer)
        for i in range(50):
            queue.add(i)
        await trio.sleep(1)
        await shut_down(queue)
    assert len(queue) == 0
    total: dict[object, int] = {}
    for counters in seen_by_consumer:
        for item, count in counters.items():
            total[item] = total.get(item, 0) + count
    # Every item was processed at least twice (once per consumer that saw it, at least twice
    # in total), and never concurrently.
    assert set(total) == set(range(50))
    assert all(count >= 2 for count in total.values())


def test_len_counts_each_waiting_item_once() -> None:
    # TestLen
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    assert len(queue) == 1
    queue.add("bar")
    assert len(queue) == 2
    queue.add("foo")
    assert len(queue) == 2


def test_item_added_while_processing_is_queued_again_on_done() -> None:
    # TestReinsert
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    item = queue.get_nowait()
    assert item == "foo"
    queue.add(item)
    assert len(queue) == 0  # not queued while it is being processed
    queue.done(item)
    assert len(queue) == 1
    assert queue.get_nowait() == "foo"
    queue.done("foo")
    assert len(queue) == 0


def test_duplicate_adds_of_a_waiting_item_collapse() -> None:
    # TestCollapse
    queue: WorkQueue[str] = WorkQueue()
    queue.add("bar")
    queue.add("bar")
    assert len(queue) == 1
    assert queue.get_nowait() == "bar"
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()
    queue.done("bar")
    assert len(queue) == 0


async def test_adds_while_processing_collapse_and_block_a_second_worker_until_done(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestCollapseWhileProcessing
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    first = await queue.get()
    queue.add("foo")
    queue.add("foo")
    assert len(queue) == 0
    got: list[tuple[str, float]] = []

    async def second_worker() -> None:
        got.append((await queue.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(second_worker)
        await trio.sleep(0.1)
        assert got == []  # still blocked: foo is being processed
        queue.done(first)
    assert [item for item, _ in got] == ["foo"]
    assert got[0][1] == pytest.approx(0.1)
    queue.done("foo")
    assert len(queue) == 0
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()


async def test_shut_down_with_drain_waits_until_processing_items_are_done(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestQueueDrainageUsingShutDownWithDrain
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    queue.add("bar")
    first = queue.get_nowait()
    second = queue.get_nowait()
    drained_at: list[float] = []

    async def drain() -> None:
        await queue.shut_down_with_drain()
        drained_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await trio.testing.wait_all_tasks_blocked()
        assert queue.shutting_down
        assert queue.statistics().draining
        with pytest.raises(QueueShutDown):
            await queue.get()
        await trio.sleep(1)
        queue.done(first)
        await trio.sleep(1)
        assert drained_at == []
        queue.done(second)
    assert drained_at == [2.0]
    assert not queue.statistics().draining


async def test_shut_down_does_not_wait_for_processing_items() -> None:
    # TestNoQueueDrainageUsingShutDown
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    queue.add("bar")
    queue.get_nowait()
    queue.get_nowait()
    queue.shut_down()
    assert queue.shutting_down
    assert queue.statistics().processing == 2


async def test_shut_down_releases_a_waiting_shut_down_with_drain(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestForceQueueShutdownUsingShutDown
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    queue.add("bar")
    queue.get_nowait()
    queue.get_nowait()
    released_at: list[float] = []

    async def drain() -> None:
        await queue.shut_down_with_drain()
        released_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await trio.sleep(5)
        assert released_at == []
        queue.shut_down()
    assert released_at == [5.0]
    assert queue.statistics().processing == 2


async def test_drain_hands_out_an_item_that_was_re_added_while_processing() -> None:
    # TestQueueDrainageUsingShutDownWithDrainWithDirtyItem
    queue: WorkQueue[str] = WorkQueue()
    queue.add("foo")
    gotten = await queue.get()
    queue.add("foo")
    drained = trio.Event()

    async def drain() -> None:
        await queue.shut_down_with_drain()
        drained.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(QueueShutDown):
            await queue.get()
        queue.done(gotten)
        again = await queue.get()  # back in the queue: handed out despite the shutdown
        assert again == "foo"
        queue.done(again)
        with pytest.raises(QueueShutDown):
            await queue.get()
    assert drained.is_set()


def test_done_item_is_not_kept_alive_by_the_queue() -> None:
    # TestGarbageCollection
    class Big:
        pass

    queue: WorkQueue[Big] = WorkQueue()
    item = Big()
    ref = weakref.ref(item)
    queue.add(item)
    queue.done(queue.get_nowait())
    del item
    gc.collect()
    assert ref() is None


# ------------------------------------------------------------------ trio-specific behaviour


def test_get_nowait_raises_would_block_when_empty_and_shut_down_when_shut_down() -> None:
    queue: WorkQueue[int] = WorkQueue()
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()
    queue.shut_down()
    with pytest.raises(QueueShutDown):
        queue.get_nowait()


def test_items_waiting_at_shutdown_are_still_handed_out_in_order() -> None:
    queue: WorkQueue[int] = WorkQueue()
    for i in range(3):
        queue.add(i)
    queue.shut_down()
    queue.add(99)
    assert [queue.get_nowait() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(QueueShutDown):
        queue.get_nowait()


def test_items_are_handed_out_in_fifo_order() -> None:
    queue: WorkQueue[int] = WorkQueue()
    for i in [3, 1, 2, 1, 3]:
        queue.add(i)
    assert [queue.get_nowait() for _ in range(3)] == [3, 1, 2]


def test_re_added_item_goes_to_the_back_at_done_time() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    a = queue.get_nowait()
    queue.add("a")  # while processing
    queue.add("b")
    queue.done(a)  # now "a" joins the queue, behind "b"
    assert [queue.get_nowait(), queue.get_nowait()] == ["b", "a"]


async def test_get_waits_for_an_add(autojump_clock: trio.testing.MockClock) -> None:
    queue: WorkQueue[str] = WorkQueue()

    async def add_later() -> None:
        await trio.sleep(3)
        queue.add("x")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(add_later)
        assert await queue.get() == "x"
        assert trio.current_time() == 3.0


async def test_waiting_tasks_are_served_in_the_order_they_started_waiting() -> None:
    queue: WorkQueue[int] = WorkQueue()
    received: list[tuple[int, int]] = []

    async def waiter(n: int) -> None:
        received.append((n, await queue.get()))

    async with trio.open_nursery() as nursery:
        for n in range(5):
            nursery.start_soon(waiter, n)
            await trio.testing.wait_all_tasks_blocked()
        assert queue.statistics().tasks_waiting == 5
        for item in range(10, 15):
            queue.add(item)
    assert sorted(received) == [(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)]


async def test_get_nowait_does_not_take_an_item_from_a_waiting_task() -> None:
    queue: WorkQueue[str] = WorkQueue()
    got: list[str] = []

    async def waiter() -> None:
        got.append(await queue.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.add("x")
        # The item went straight to the waiting task, before it even ran again.
        assert len(queue) == 0
        with pytest.raises(trio.WouldBlock):
            queue.get_nowait()
        assert queue.statistics().processing == 1
    assert got == ["x"]


async def test_cancelling_a_waiting_get_loses_no_item() -> None:
    queue: WorkQueue[str] = WorkQueue()
    cancelled = trio.CancelScope()
    got: list[str] = []

    async def waiter() -> None:
        with cancelled:
            got.append(await queue.get())

    async def patient_waiter() -> None:
        got.append(await queue.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(patient_waiter)
        await trio.testing.wait_all_tasks_blocked()
        cancelled.cancel()  # the first in line leaves ...
        await trio.testing.wait_all_tasks_blocked()
        assert queue.statistics().tasks_waiting == 1
        queue.add("x")  # ... so the item goes to the second
    assert got == ["x"]
    assert cancelled.cancelled_caught


async def test_cancel_and_add_in_the_same_tick_either_delivers_or_keeps_the_item() -> None:
    queue: WorkQueue[str] = WorkQueue()
    outcome_: list[str] = []
    scope = trio.CancelScope()

    async def waiter() -> None:
        with scope:
            outcome_.append(await queue.get())
            return
        outcome_.append("cancelled")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.add("x")  # handed to the waiter ...
        scope.cancel()  # ... which is cancelled before it runs again
    # The hand-off already happened, so the task returns the item (nothing is lost).
    assert outcome_ == ["x"]
    assert queue.statistics().processing == 1


async def test_get_is_a_checkpoint_even_when_an_item_is_ready() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("x")
    with trio.CancelScope() as scope:
        scope.cancel()
        await queue.get()
    assert scope.cancelled_caught
    assert len(queue) == 1  # the item was not taken
    with trio.testing.assert_checkpoints():
        assert await queue.get() == "x"


async def test_get_on_a_shut_down_empty_queue_raises_at_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.shut_down()
    with trio.testing.assert_checkpoints(), pytest.raises(QueueShutDown):
        await queue.get()


async def test_shut_down_wakes_every_waiting_get() -> None:
    queue: WorkQueue[str] = WorkQueue()
    results: list[str] = []

    async def waiter() -> None:
        try:
            await queue.get()
        except QueueShutDown:
            results.append("shut down")

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        queue.shut_down()
    assert results == ["shut down"] * 3


async def test_async_iteration_ends_at_shutdown() -> None:
    queue: WorkQueue[int] = WorkQueue()
    for i in range(3):
        queue.add(i)
    queue.shut_down()
    seen = []
    async for item in queue:
        seen.append(item)
        queue.done(item)
    assert seen == [0, 1, 2]


def test_done_of_an_item_not_being_processed_raises() -> None:
    queue: WorkQueue[str] = WorkQueue()
    with pytest.raises(ValueError, match="not being processed"):
        queue.done("ghost")
    queue.add("x")
    with pytest.raises(ValueError, match="not being processed"):
        queue.done("x")  # waiting, not handed out
    assert len(queue) == 1


def test_done_after_shutdown_still_requeues_a_re_added_item() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("x")
    item = queue.get_nowait()
    queue.add("x")
    queue.shut_down()
    queue.done(item)
    assert queue.get_nowait() == "x"


async def test_shut_down_with_drain_returns_at_once_when_nothing_is_processing() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("waiting")
    with trio.testing.assert_checkpoints():
        await queue.shut_down_with_drain()
    assert queue.shutting_down
    assert len(queue) == 1


def test_statistics_reports_every_count() -> None:
    queue: WorkQueue[str] = WorkQueue(name="stats")
    queue.add("a")
    queue.add("b")
    queue.add("c")
    a = queue.get_nowait()
    queue.get_nowait()
    queue.add(a)
    assert queue.statistics() == QueueStatistics(
        name="stats",
        waiting=1,
        processing=2,
        requeue_on_done=1,
        delayed=0,
        tasks_waiting=0,
        shutting_down=False,
        draining=False,
    )
    assert "stats" in repr(queue)
    assert "waiting=1" in repr(queue)


def test_metrics_need_a_name() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        WorkQueue(metrics=RecordingProvider())


def test_a_queue_works_without_a_trio_run() -> None:
    # Constructing and using a queue needs no nursery and no running trio (no timers used).
    queue: WorkQueue[int] = WorkQueue(name="plain")
    queue.add(1)
    queue.done(queue.get_nowait())
    queue.shut_down()
    assert queue.shutting_down
