"""The one back-off policy and the one attempt loop (trio's MockClock, no real waiting)."""

from __future__ import annotations

import math
import random

import pytest
import trio
import trio.testing

from vk_trio.util import Backoff, retry


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


def test_delays_grow_by_factor_up_to_cap() -> None:
    policy = Backoff(0.5, factor=2.0, cap=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert Backoff(0.01, factor=1.0).delay(100) == 0.01
    assert Backoff(0).delay(3) == 0.0


def test_huge_retry_counts_stay_at_the_cap() -> None:
    assert Backoff(1.0, cap=30.0).delay(10_000) == 30.0
    assert Backoff(1.0).ceiling(10_000) == math.inf


def test_jitter_spreads_upwards_after_the_cap() -> None:
    policy = Backoff(1.0, cap=4.0, jitter=0.5)
    rng = random.Random(1)
    samples = [policy.delay(5, rng) for _ in range(500)]
    assert all(4.0 <= s < 6.0 for s in samples)
    assert max(samples) - min(samples) > 1.5  # actually spread, not constant


def test_invalid_policies_are_refused() -> None:
    bad: list[dict[str, float]] = [
        {"initial": -1.0},
        {"initial": 1.0, "factor": 0.5},
        {"initial": 2.0, "cap": 1.0},
        {"initial": 1.0, "jitter": -0.1},
        {"initial": math.nan},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match="backoff"):
            Backoff(**kwargs)
    with pytest.raises(ValueError, match="count from 1"):
        Backoff(1.0).delay(0)


async def test_retries_until_success_with_backoff_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[float] = []
    seen: list[tuple[str, int, float]] = []

    async def operation() -> str:
        calls.append(trio.current_time())
        if len(calls) < 4:
            raise Flaky(f"try {len(calls)}")
        return "done"

    start = trio.current_time()
    result = await retry(
        operation,
        backoff=Backoff(1.0, factor=2.0),
        retryable=lambda exc: isinstance(exc, Flaky),
        on_retry=lambda exc, attempt, delay: seen.append((str(exc), attempt, delay)),
    )
    assert result == "done"
    assert [t - start for t in calls] == pytest.approx([0.0, 1.0, 3.0, 7.0])
    assert seen == [("try 1", 1, 1.0), ("try 2", 2, 2.0), ("try 3", 3, 4.0)]


async def test_not_retryable_errors_raise_at_once() -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise Fatal("no")

    with pytest.raises(Fatal):
        await retry(operation, backoff=Backoff(1.0), retryable=lambda e: isinstance(e, Flaky))
    assert calls == 1


async def test_max_attempts_counts_the_first_try(autojump_clock: trio.testing.MockClock) -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(str(calls))

    with pytest.raises(Flaky, match="3"):
        await retry(operation, backoff=Backoff(0.1), retryable=lambda e: True, max_attempts=3)
    assert calls == 3
    with pytest.raises(ValueError, match="max_attempts"):
        await retry(operation, backoff=Backoff(0.1), retryable=lambda e: True, max_attempts=0)


async def test_deadline_stops_retries_whose_wait_would_pass_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[float] = []

    async def operation() -> None:
        calls.append(trio.current_time())
        raise Flaky("again")

    start = trio.current_time()
    with pytest.raises(Flaky):
        await retry(
            operation,
            backoff=Backoff(1.0),
            retryable=lambda e: True,
            deadline=start + 10.0,
        )
    # attempts at 0, 1, 3, 7; the next wait (8 s) would end at 15 > 10
    assert [t - start for t in calls] == pytest.approx([0.0, 1.0, 3.0, 7.0])


async def test_retry_after_overrides_the_backoff_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[float] = []

    async def operation() -> int:
        calls.append(trio.current_time())
        if len(calls) == 1:
            raise Flaky("throttled")
        if len(calls) == 2:
            raise Fatal("transient, no hint")
        return len(calls)

    start = trio.current_time()
    result = await retry(
        operation,
        backoff=Backoff(0.5),
        retryable=lambda e: True,
        retry_after=lambda e: 7.0 if isinstance(e, Flaky) else None,
    )
    assert result == 3
    # 7 s (the hint) then the back-off's second step (1 s): the back-off advanced meanwhile
    assert [t - start for t in calls] == pytest.approx([0.0, 7.0, 8.0])


async def test_cancellation_is_not_retried(autojump_clock: trio.testing.MockClock) -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        await trio.sleep_forever()

    with trio.move_on_after(5):
        await retry(operation, backoff=Backoff(0.1), retryable=lambda e: True)
    assert calls == 1


async def test_the_last_error_is_raised_without_chaining_earlier_ones(
    autojump_clock: trio.testing.MockClock,
) -> None:
    count = 0

    async def operation() -> None:
        nonlocal count
        count += 1
        raise Flaky(str(count))

    with pytest.raises(Flaky) as info:
        await retry(operation, backoff=Backoff(0.1), retryable=lambda e: True, max_attempts=2)
    assert str(info.value) == "2"
    assert info.value.__context__ is None
