"""RateLimitingQueue: our version of client-go's rate_limiting_queue_test.go."""

from __future__ import annotations

import trio
import trio.testing

from vk_trio.queue import (
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
)


async def _ready_in(queue: RateLimitingQueue[str], item: str) -> float:
    """How long from now until *item* is handed out (the queue must hold nothing else)."""
    start = trio.current_time()
    got = await queue.get()
    assert got == item
    queue.done(got)
    return trio.current_time() - start


async def test_add_rate_limited_delays_by_the_limiters_backoff_and_forget_resets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # TestRateLimitingQueue: Exp(1 ms, 1 s).
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.001, 1.0))
    queue.add_rate_limited("one")
    assert len(queue) == 0
    assert await _ready_in(queue, "one") == 0.001
    queue.add_rate_limited("one")
    assert round(await _ready_in(queue, "one"), 9) == 0.002
    assert queue.num_requeues("one") == 2

    queue.add_rate_limited("two")
    assert round(await _ready_in(queue, "two"), 9) == 0.001
    queue.add_rate_limited("two")
    assert round(await _ready_in(queue, "two"), 9) == 0.002

    queue.forget("one")
    assert queue.num_requeues("one") == 0
    queue.add_rate_limited("one")
    assert round(await _ready_in(queue, "one"), 9) == 0.001


async def test_pending_rate_limited_adds_of_one_item_keep_the_earliest_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(1.0, 100.0))
    queue.add_rate_limited("x")  # ready at 1 s
    queue.add_rate_limited("x")  # 2 s: ignored, the earlier time wins
    assert queue.num_requeues("x") == 2
    assert await _ready_in(queue, "x") == 1.0
    await trio.sleep(5)
    assert len(queue) == 0


async def test_the_default_limiter_is_client_gos_controller_limiter() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue()
    assert isinstance(queue.rate_limiter, MaxOfRateLimiter)
    assert queue.rate_limiter.when("x") == 0.005


async def test_the_limiter_is_consulted_even_when_the_queue_is_shut_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.001, 1.0))
    queue.shut_down()
    queue.add_rate_limited("x")
    assert queue.num_requeues("x") == 1
    assert queue.statistics().delayed == 0


def test_add_and_done_do_not_touch_the_limiter() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.001, 1.0))
    queue.add("x")
    queue.done(queue.get_nowait())
    assert queue.num_requeues("x") == 0
