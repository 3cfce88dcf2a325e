"""The ping controller: asks the provider "are you healthy?" on a fixed cadence.

The node's heartbeats (Lease renewals and status patches) are only as honest as this answer, so it
is computed in one place and read by both. Two properties matter:

* **single flight**: at most one ``ping()`` is ever running. A ping that outlives its timeout is
  reported as a failure, but it is not abandoned or stacked upon: the next round waits for the same
  call instead of starting another (a hung backend must not collect one stuck call per interval);
* **first result**: readers can wait for the first answer, so nothing heartbeats on the strength of
  a ping that has not happened yet. Later readers get the latest answer at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import final

import attrs
import trio

__all__ = ["PingController", "PingResult", "PingStatistics"]

logger = logging.getLogger("vk_trio.node.ping")


@final
@attrs.frozen
class PingResult:
    """One round: when it started (trio clock) and the error, ``None`` when healthy."""

    started_at: float
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@final
@attrs.frozen
class PingStatistics:
    rounds: int
    failures: int
    calls_started: int
    in_flight: bool


@final
class _Call:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: BaseException | None = None


@final
class PingController:
    """Runs ``ping`` once at start and then ``interval`` seconds after each round completes."""

    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        *,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("ping interval must be positive")
        if timeout is not None and timeout <= 0:
            raise ValueError("ping timeout must be positive (or None for no timeout)")
        self._ping = ping
        self._interval = interval
        self._timeout = timeout
        self._latest: PingResult | None = None
        self._first = trio.Event()
        self._changed = trio.Event()
        self._in_flight: _Call | None = None
        self._rounds = 0
        self._failures = 0
        self._calls = 0

    @property
    def latest(self) -> PingResult | None:
        """The most recent result (``None`` before the first round completed)."""
        return self._latest

    async def first_result(self) -> PingResult:
        """Wait for the first round; afterwards return the latest result at once."""
        await self._first.wait()
        assert self._latest is not None
        return self._latest

    async def wait_for_change(self) -> PingResult:
        """Wait until the next round completes and return its result."""
        await self._changed.wait()
        assert self._latest is not None
        return self._latest

    def statistics(self) -> PingStatistics:
        return PingStatistics(
            rounds=self._rounds,
            failures=self._failures,
            calls_started=self._calls,
            in_flight=self._in_flight is not None,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Ping until cancelled. Reports started at once (readers wait via :meth:`first_result`)."""
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                await self._round(nursery)
                await trio.sleep(self._interval)

    async def _round(self, nursery: trio.Nursery) -> None:
        call = self._in_flight
        if call is None:
            call = _Call()
            self._in_flight = call
            self._calls += 1
            nursery.start_soon(self._call, call)
        started = trio.current_time()
        error: BaseException | None
        with trio.move_on_after(self._timeout if self._timeout is not None else math.inf):
            await call.done.wait()
        if call.done.is_set():
            error = call.error
        else:
            error = TimeoutError(f"ping did not answer within {self._timeout:g}s")
        self._publish(PingResult(started, error))

    async def _call(self, call: _Call) -> None:
        try:
            await self._ping()
        except Exception as exc:
            call.error = exc
        finally:
            self._in_flight = None
            call.done.set()

    def _publish(self, result: PingResult) -> None:
        previous = self._latest
        self._latest = result
        self._rounds += 1
        if result.error is not None:
            self._failures += 1
            if previous is None or previous.ok:
                logger.warning("provider ping failed: %s", result.error)
        elif previous is not None and not previous.ok:
            logger.info("provider ping healthy again")
        self._first.set()
        changed, self._changed = self._changed, trio.Event()
        changed.set()
