"""``await queue.join()``: wait until idle (nothing waiting, processing or delayed)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from vk_trio.queue import (
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    RateLimitingQueue,
    WorkQueue,
    run_workers,
)

QUEUE_TYPES = pytest.mark.parametrize(
    "queue_type", [WorkQueue, DelayingQueue, RateLimitingQueue], ids=lambda t: t.__name__
)


@QUEUE_TYPES
async def test_join_on_an_idle_queue_returns_at_once_and_is_a_checkpoint(
    queue_type: type[WorkQueue[str]],
) -> None:
    queue = queue_type()
    with trio.CancelScope() as scope:
        scope.cancel()
        await queue.join()  # a checkpoint: the cancellation arrives here
        pytest.fail("join() did not checkpoint")
    assert scope.cancelled_caught
    await queue.join()


@QUEUE_TYPES
async def test_join_waits_until_every_item_is_done(
    queue_type: type[WorkQueue[str]], autojump_clock: trio.testing.MockClock
) -> None:
    queue = queue_type()
    finished: list[str] = []

    async def worker() -> None:
        async for item in queue:
            await trio.sleep(1)
            finished.append(item)
            queue.done(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        for item in "abc":
            queue.add(item)
        await queue.join()
        assert finished == ["a", "b", "c"]
        assert trio.current_time() == 3
        stats = queue.statistics()
        assert (stats.waiting, stats.processing, stats.delayed) == (0, 0, 0)
        queue.shut_down()


async def test_join_waits_for_an_item_re_added_while_processing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue()
    handled: list[float] = []

    async def worker() -> None:
        async for item in queue:
            handled.append(trio.current_time())
            if len(handled) == 1:
                queue.add(item)  # re-added while processing: done() re-queues it
            await trio.sleep(1)
            queue.done(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        queue.add("a")
        await queue.join()
        assert handled == [0, 1]
        assert trio.current_time() == 2
        queue.shut_down()


@pytest.mark.parametrize("queue_type", [DelayingQueue, RateLimitingQueue])
async def test_delayed_items_count_as_outstanding_work(
    queue_type: type[DelayingQueue[str]], autojump_clock: trio.testing.MockClock
) -> None:
    queue = queue_type()
    done_at: dict[str, float] = {}

    async def worker() -> None:
        async for item in queue:
            done_at[item] = trio.current_time()
            queue.done(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        queue.add_after("later", 30)
        await queue.join()
        assert done_at == {"later": 30}
        assert trio.current_time() == 30
        queue.shut_down()


async def test_rate_limited_retries_are_waited_for_until_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(1, 100))
    attempts: list[float] = []

    async def always_fails(item: str) -> None:
        attempts.append(trio.current_time())
        raise RuntimeError("nope")

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_workers(
                queue, always_fails, max_retries=3, task_status=task_status
            )
        )
        queue.add("x")
        await queue.join()
        # First attempt at 0, retries after 1, 2 and 4 s; then dropped, and the queue is idle.
        assert attempts == [0, 1, 3, 7]
        assert trio.current_time() == 7
        queue.shut_down()


def test_join_wakes_without_the_clock_moving() -> None:
    # No polling inside: with a clock that never advances (no autojump), a join() still returns
    # as soon as the last item is done.
    clock = trio.testing.MockClock()

    async def main() -> None:
        queue: WorkQueue[int] = WorkQueue()
        joined = trio.Event()

        async def joiner() -> None:
            await queue.join()
            joined.set()

        queue.add(1)
        item = queue.get_nowait()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(joiner)
            nursery.start_soon(joiner)
            await trio.testing.wait_all_tasks_blocked()
            assert not joined.is_set()
            queue.done(item)
            await joined.wait()
        assert trio.current_time() == 0

    trio.run(main, clock=clock)


async def test_shutdown_drops_delayed_items_and_can_leave_the_queue_idle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("never", 3600)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.join)
        await trio.sleep(1)
        queue.shut_down()  # the delayed item is dropped: idle now, join() returns
    assert trio.current_time() == 1


async def test_a_cancelled_join_leaves_the_queue_unaffected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    with trio.move_on_after(5):
        await queue.join()
    assert trio.current_time() == 5
    item = await queue.get()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.join)
        await trio.sleep(1)
        queue.done(item)
    assert queue.statistics().processing == 0
