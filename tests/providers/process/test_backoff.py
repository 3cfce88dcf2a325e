"""The crash back-off: the kubelet's numbers, and the provider waiting them out on trio's clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio_process import CrashBackoff

from ._support import container, container_status, pod, running_provider


def test_delays_double_from_ten_seconds_to_five_minutes() -> None:
    backoff = CrashBackoff()
    delays = [backoff.delay(1.0) for _ in range(8)]
    assert delays == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_ten_minutes_of_running_resets_the_back_off() -> None:
    backoff = CrashBackoff()
    for _ in range(5):
        backoff.delay(1.0)
    assert backoff.delay(599.0) == 160.0
    assert backoff.delay(600.0) == 0.0
    assert backoff.delay(1.0) == 10.0


@pytest.fixture
def idle_jump_clock() -> trio.testing.MockClock:
    """Jumps to the next deadline once everything waited 50 ms of real time: back-off sleeps
    pass at once, while real processes still get real time to start and exit."""
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_the_provider_waits_the_back_off_on_trios_clock(
    tmp_path: Path, idle_jump_clock: trio.testing.MockClock
) -> None:
    """Restart counts follow the back-off: the second restart comes 10 s (trio time) after the
    first, the third 20 s after that."""

    def restarts(count: int) -> Callable[[dict[str, Any]], bool]:
        return lambda s: (
            container_status(s)["restartCount"] == count
            and ("running" in container_status(s)["state"])
        )

    async with running_provider(tmp_path) as (provider, notes):
        await provider.create_pod(pod("crash", container("app", "false"), restart="Always"))
        first, status = await notes.until("crash", restarts(1))
        second, status = await notes.until("crash", restarts(2))
        third, status = await notes.until("crash", restarts(3))
        assert container_status(status)["lastState"]["terminated"]["exitCode"] == 1
    # the runs themselves take a little (real processes), the waits exactly the back-off
    assert 10.0 <= second - first < 11.0
    assert 20.0 <= third - second < 21.0
