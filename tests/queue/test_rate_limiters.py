"""Rate limiters: our versions of client-go's default_rate_limiters_test.go, the defaults, and
the token bucket's x/time/rate arithmetic."""

from __future__ import annotations

import math
from collections.abc import Hashable

import pytest
import trio
import trio.testing

from vk_trio.queue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
    default_item_based_rate_limiter,
)

MS = 0.001


def test_exponential_doubles_per_item_and_forget_resets() -> None:
    # TestItemExponentialFailureRateLimiter
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1.0)
    assert [limiter.when("one") for _ in range(5)] == [0.001, 0.002, 0.004, 0.008, 0.016]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [0.001, 0.002]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 0.001


def test_exponential_is_capped_and_never_overflows() -> None:
    # TestItemExponentialFailureRateLimiterOverFlow
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1000.0)
    for _ in range(5):
        limiter.when("one")
    assert limiter.when("one") == 0.032
    for _ in range(1000):
        limiter.when("overflow1")
    assert limiter.when("overflow1") == 1000.0

    limiter = ItemExponentialFailureRateLimiter(60.0, 1000 * 3600.0)
    for _ in range(2):
        limiter.when("two")
    assert limiter.when("two") == 4 * 60.0
    for _ in range(1000):
        limiter.when("overflow2")
    assert limiter.when("overflow2") == 1000 * 3600.0


def test_exponential_with_zero_base_is_always_zero_and_infinite_cap_is_allowed() -> None:
    assert ItemExponentialFailureRateLimiter(0, 1).when("x") == 0
    limiter = ItemExponentialFailureRateLimiter(1.0, math.inf)
    assert [limiter.when("x") for _ in range(3)] == [1.0, 2.0, 4.0]
    for _ in range(100):
        limiter.when("x")
    assert limiter.when("x") == math.inf  # past what int64 nanoseconds hold: the cap


def test_exponential_rejects_negative_delays() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ItemExponentialFailureRateLimiter(-1, 1)


def test_fast_slow_switches_after_max_fast_attempts() -> None:
    # TestItemFastSlowRateLimiter
    limiter = ItemFastSlowRateLimiter(5 * MS, 10.0, 3)
    assert [limiter.when("one") for _ in range(5)] == [0.005, 0.005, 0.005, 10.0, 10.0]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [0.005, 0.005]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 0.005


def test_max_of_takes_the_longest_delay_and_calls_every_limiter() -> None:
    # TestMaxOfRateLimiter
    limiter = MaxOfRateLimiter(
        ItemFastSlowRateLimiter(5 * MS, 3.0, 3),
        ItemExponentialFailureRateLimiter(1 * MS, 1.0),
    )
    assert [limiter.when("one") for _ in range(5)] == [0.005, 0.005, 0.005, 3.0, 3.0]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [0.005, 0.005]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 0.005


def test_max_of_needs_a_limiter() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter()


class _StepLimiter:
    """5 ms for the first 100 calls, 1000 s afterwards (client-go's test limiter)."""

    def __init__(self) -> None:
        self.calls = 0
        self.forgotten: list[Hashable] = []

    def when(self, item: Hashable) -> float:
        self.calls += 1
        return 0.005 if self.calls <= 100 else 1000.0

    def forget(self, item: Hashable) -> None:
        self.forgotten.append(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.calls


def test_with_max_wait_caps_the_wrapped_delay() -> None:
    # TestWithMaxWaitRateLimiter
    inner = _StepLimiter()
    limiter: RateLimiter = WithMaxWaitRateLimiter(inner, 500.0)
    assert [limiter.when("x") for _ in range(100)] == [0.005] * 100
    assert [limiter.when("x") for _ in range(100)] == [500.0] * 100
    assert limiter.num_requeues("x") == 200
    limiter.forget("x")
    assert inner.forgotten == ["x"]


def test_bucket_starts_full_then_reservations_accumulate() -> None:
    now = [0.0]
    limiter = BucketRateLimiter(10, 100, clock=lambda: now[0])
    assert [limiter.when(i) for i in range(100)] == [0.0] * 100
    assert [limiter.when(i) for i in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert limiter.num_requeues("anything") == 0
    limiter.forget("anything")  # tracks no items
    assert limiter.tokens == pytest.approx(-3)


def test_bucket_refills_at_qps_up_to_burst() -> None:
    now = [0.0]
    limiter = BucketRateLimiter(10, 5, clock=lambda: now[0])
    for _ in range(5):
        assert limiter.when("x") == 0
    assert limiter.when("x") == pytest.approx(0.1)  # tokens now -1
    now[0] = 0.35  # +3.5 tokens: 2.5
    assert limiter.when("x") == 0
    assert limiter.tokens == pytest.approx(1.5)
    now[0] = 100.0  # refill is capped at the burst
    for _ in range(5):
        assert limiter.when("x") == 0
    assert limiter.when("x") == pytest.approx(0.1)


def test_bucket_with_infinite_qps_never_delays_and_zero_qps_allows_only_the_burst() -> None:
    unlimited = BucketRateLimiter(math.inf, 0, clock=lambda: 0.0)
    assert [unlimited.when("x") for _ in range(3)] == [0.0, 0.0, 0.0]
    frozen = BucketRateLimiter(0, 2, clock=lambda: 0.0)
    assert [frozen.when("x") for _ in range(3)] == [0.0, 0.0, math.inf]


def test_bucket_with_zero_burst_refuses_every_reservation() -> None:
    limiter = BucketRateLimiter(10, 0, clock=lambda: 0.0)
    assert limiter.when("x") == math.inf


def test_bucket_rejects_negative_qps() -> None:
    with pytest.raises(ValueError, match="qps"):
        BucketRateLimiter(-1, 1)


async def test_bucket_uses_trios_clock_by_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = BucketRateLimiter(2, 1)
    assert limiter.when("x") == 0
    assert limiter.when("x") == 0.5
    await trio.sleep(1)  # +2 tokens: from -1 to 1
    assert limiter.when("x") == 0


async def test_default_controller_limiter_backs_off_per_item_from_5ms_to_1000s() -> None:
    limiter = default_controller_rate_limiter()
    # One item: the per-item backoff dominates (the bucket still has tokens).
    delays = [limiter.when("item") for _ in range(20)]
    assert delays[:4] == [0.005, 0.010, 0.020, 0.040]
    assert delays[17] == 655.36  # 18th call: 5 ms * 2**17
    assert delays[18:] == [1000.0, 1000.0]  # 19th call on: the cap
    assert limiter.num_requeues("item") == 20
    limiter.forget("item")
    assert limiter.num_requeues("item") == 0


async def test_default_controller_limiter_bucket_allows_100_then_adds_100ms_each(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = default_controller_rate_limiter()
    # Distinct items, so the per-item backoff is 5 ms each time and the bucket decides.
    delays = [limiter.when(i) for i in range(103)]
    assert delays[:100] == [0.005] * 100
    assert delays[100:] == pytest.approx([0.1, 0.2, 0.3])


def test_default_item_based_limiter_backs_off_from_1ms_to_1000s() -> None:
    limiter = default_item_based_rate_limiter()
    delays = [limiter.when("x") for _ in range(22)]
    assert delays[:3] == [0.001, 0.002, 0.004]
    assert delays[19] == 524.288  # 20th call
    assert delays[20:] == [1000.0, 1000.0]


def test_exponential_with_infinite_base_is_always_the_cap() -> None:
    assert ItemExponentialFailureRateLimiter(math.inf, 5).when("x") == 5.0
