"""Token bucket on trio's clock (autojump: no real sleeping)."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from vk_trio.kube import TokenBucket


async def test_burst_is_free_then_qps_paces(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(qps=10.0, burst=5)
    start = trio.current_time()
    for _ in range(5):
        await bucket.acquire()
    assert trio.current_time() == start
    times = []
    for _ in range(10):
        await bucket.acquire()
        times.append(trio.current_time() - start)
    assert times == pytest.approx([0.1 * (i + 1) for i in range(10)])
    stats = bucket.statistics()
    assert stats.acquired == 15
    assert stats.delayed == 10
    assert stats.waited == pytest.approx(1.0)  # each of the 10 waited one interval


async def test_concurrent_callers_are_spread_evenly(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(qps=100.0, burst=1)
    done: list[float] = []
    start = trio.current_time()

    async def caller() -> None:
        await bucket.acquire()
        done.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(caller)
    done.sort()
    assert done[0] == 0.0
    assert done[-1] == pytest.approx(0.49)
    gaps = [b - a for a, b in itertools.pairwise(done)]
    assert all(g == pytest.approx(0.01) for g in gaps)


async def test_refills_up_to_burst_only(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(qps=1.0, burst=3)
    await bucket.acquire()
    await trio.sleep(100)  # would mint 100 tokens, but the bucket holds 3
    start = trio.current_time()
    for _ in range(3):
        await bucket.acquire()
    assert trio.current_time() == start
    await bucket.acquire()
    assert trio.current_time() == pytest.approx(start + 1.0)


async def test_cancelled_waiter_returns_its_token(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(qps=1.0, burst=1)
    await bucket.acquire()
    with trio.move_on_after(0.5):
        await bucket.acquire()  # would wait 1 s
    # The abandoned reservation was given back: the next caller waits ~0.5 s more, not 1.5 s.
    before = trio.current_time()
    await bucket.acquire()
    assert trio.current_time() - before == pytest.approx(0.5)
    assert bucket.statistics().acquired == 2


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(qps=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(qps=1, burst=0)
