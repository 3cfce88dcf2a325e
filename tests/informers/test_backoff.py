from __future__ import annotations

import random

import pytest
import trio

from vk_trio.informers import Backoff
from vk_trio.informers._backoff import watch_timeout_seconds


async def test_delays_double_from_0_8_s_to_a_30_s_cap_with_jitter_in_d_to_2d(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = Backoff(rng=random.Random(1))
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0]
    for base in bases:
        delay = backoff.next_delay()
        assert base <= delay < 2 * base
        await trio.sleep(delay)  # back to back: never quiet long enough to reset


async def test_without_jitter_the_sequence_is_exact(autojump_clock: trio.testing.MockClock) -> None:
    backoff = Backoff(jitter=0.0)
    got = [backoff.next_delay() for _ in range(8)]
    assert got == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0])


async def test_resets_after_a_quiet_period(autojump_clock: trio.testing.MockClock) -> None:
    backoff = Backoff(jitter=0.0)
    for _ in range(5):
        backoff.next_delay()
    await trio.sleep(120.0)  # exactly the reset period: not yet quiet *longer* than it
    assert backoff.next_delay() == pytest.approx(25.6)
    await trio.sleep(120.5)
    assert backoff.next_delay() == pytest.approx(0.8)
    assert backoff.next_delay() == pytest.approx(1.6)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.8)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, cap=1)


def test_watch_timeout_is_uniform_in_min_to_twice_min_whole_seconds() -> None:
    # Our version of TestWatchTimeout (client-go clamps small minimums; we honour them).
    rng = random.Random(7)
    for minimum, low, high in ((300.0, 300, 600), (1800.0, 1800, 3600), (2.0, 2, 4)):
        seen = {watch_timeout_seconds(minimum, rng) for _ in range(2000)}
        assert min(seen) >= low and max(seen) < high
        assert len(seen) > min(50, high - low - 1)  # actually spread out
        assert all(isinstance(v, int) for v in seen)
