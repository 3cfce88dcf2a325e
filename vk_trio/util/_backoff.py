"""One back-off policy and one attempt loop for everything that retries.

Every component that talks to the API server repeats some failed calls: the kube client (transient
transport and server failures, throttling), node registration, the status conflict loop, the Lease,
the deletion of dangling pods. They used to hand-roll their loops with their own constants and
subtly different jitter; now each states its *policy* as a :class:`Backoff` value and its *decision*
("is this failure worth another try?") as a predicate, and :func:`retry` runs the loop.

Sleeping goes through ``trio.sleep`` and deadlines through ``trio.current_time``, so the whole
behaviour is testable with ``trio.testing.MockClock`` (no test waits out a back-off for real).
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar, final

import attrs
import trio

__all__ = ["Backoff", "RetryHook", "retry"]

T = TypeVar("T")

_RNG: Final = random.Random()


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"backoff {attribute.name} must be >= 0, not {value!r}")


def _at_least_one(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 1:
        raise ValueError(f"backoff {attribute.name} must be >= 1, not {value!r}")


@final
@attrs.frozen
class Backoff:
    """How long to wait before each retry: exponential growth, a ceiling, optional jitter.

    The wait before retry ``n`` (1 for the first retry) is
    ``min(cap, initial * factor ** (n - 1)) * (1 + jitter * U)`` with ``U`` uniform in
    ``[0, 1)``: the ceiling applies *before* the jitter, so ``jitter=1.0`` spreads each wait over
    ``[d, 2d)`` - retries of many clients that failed together do not come back in lock step.
    ``factor=1`` gives a constant delay; ``jitter=0`` a deterministic one (``Backoff(0)`` retries
    at once). The value is immutable and shared freely; the retry count lives with the caller.
    """

    initial: float = attrs.field(validator=_non_negative)
    factor: float = attrs.field(default=2.0, validator=_at_least_one)
    cap: float = attrs.field(default=math.inf, validator=_non_negative)
    jitter: float = attrs.field(default=0.0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.cap < self.initial:
            raise ValueError(f"backoff cap ({self.cap!r}) is below initial ({self.initial!r})")

    def ceiling(self, retry: int) -> float:
        """The wait before retry ``retry`` without jitter (``retry`` counts from 1)."""
        if retry < 1:
            raise ValueError(f"retries count from 1, not {retry}")
        try:
            grown = self.initial * self.factor ** (retry - 1)
        except OverflowError:
            grown = math.inf
        return min(self.cap, grown)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait in seconds before retry ``retry`` (counts from 1), jitter included."""
        ceiling = self.ceiling(retry)
        if self.jitter:
            ceiling *= 1.0 + self.jitter * (rng or _RNG).random()
        return ceiling


RetryHook = Callable[[Exception, int, float], None]
"""``on_retry(error, attempt, delay)``: ``attempt`` failed with ``error``; the next one follows in
``delay`` seconds. The place to log and count retries."""


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    retryable: Callable[[Exception], bool],
    max_attempts: int | None = None,
    deadline: float | None = None,
    retry_after: Callable[[Exception], float | None] | None = None,
    on_retry: RetryHook | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``operation`` until it returns, a failure is not ``retryable``, or the budget is spent.

    ``max_attempts`` counts the first try (``None``: no limit); ``deadline`` is a time on trio's
    clock after which no further attempt *starts* (a retry whose wait would end past it is not
    made). Either way the last error is raised as it was, so callers handle one kind of failure
    whether or not retries happened. ``retry_after(error)`` may name the wait for a particular
    failure (a server's ``Retry-After``) instead of the back-off's; the back-off still advances.
    Only :class:`Exception` is caught: cancellation and ``KeyboardInterrupt`` pass through.
    """
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"max_attempts counts the first try and must be >= 1, not {max_attempts}")
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as error:
            if max_attempts is not None and attempt >= max_attempts:
                raise
            if not retryable(error):
                raise
            wait = retry_after(error) if retry_after is not None else None
            if wait is None:
                wait = backoff.delay(attempt, rng)
            if deadline is not None and trio.current_time() + wait > deadline:
                raise
            if on_retry is not None:
                on_retry(error, attempt, wait)
        await trio.sleep(wait)
