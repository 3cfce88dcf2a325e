"""Rate limiters: how long to wait before an item is retried.

Numbers and edge cases follow client-go's ``default_rate_limiters.go`` and, for the token
bucket, ``golang.org/x/time/rate`` exactly, so a controller ported from Go retries on the same
schedule.  Delays are float seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Protocol, final

import trio

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
]

_NS = 1_000_000_000
_MAX_INT64 = 2**63 - 1


class RateLimiter(Protocol):
    """Decides the delay before an item is retried, and tracks its failures."""

    def when(self, item: Hashable) -> float:
        """Seconds to wait before *item* is retried; records one more failure of *item*."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking *item* (it succeeded, or was given up on)."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many failures of *item* are being tracked."""
        ...


def _to_ns(seconds: float) -> float:
    """Seconds to whole nanoseconds, as a Go ``time.Duration`` holds them (``inf`` stays)."""
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"delay must be a non-negative number of seconds, got {seconds!r}")
    if seconds == math.inf:
        return math.inf
    return round(seconds * _NS)


@final
class ItemExponentialFailureRateLimiter:
    """Per item: ``base_delay * 2**failures``, capped at ``max_delay``.

    The n-th ``when()`` of an item returns ``base_delay * 2**(n-1)``.  The computation is done
    in integer nanoseconds like Go's ``time.Duration``, so there is no overflow however often an
    item fails: past the cap (or past what an int64 of nanoseconds can hold) it is ``max_delay``.
    """

    __slots__ = ("_base_ns", "_failures", "_max_ns")

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self._base_ns = _to_ns(base_delay)
        self._max_ns = _to_ns(max_delay)
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        base = self._base_ns
        if base == 0:
            return 0.0
        if base == math.inf:
            return self._max_ns / _NS
        # base >= 1 ns, so from 2**63 on the backoff exceeds int64 nanoseconds (Go: maxDelay).
        if exp >= 63:
            return self._max_ns / _NS
        backoff = int(base) << exp
        if backoff > _MAX_INT64 or backoff > self._max_ns:
            return self._max_ns / _NS
        return backoff / _NS

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


@final
class ItemFastSlowRateLimiter:
    """Per item: ``fast_delay`` for the first ``max_fast_attempts`` failures, then
    ``slow_delay``."""

    __slots__ = ("_failures", "_fast", "_max_fast", "_slow")

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        self._fast = _to_ns(fast_delay) / _NS
        self._slow = _to_ns(slow_delay) / _NS
        self._max_fast = max_fast_attempts
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0) + 1
        self._failures[item] = failures
        return self._fast if failures <= self._max_fast else self._slow

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


@final
class BucketRateLimiter:
    """An overall token bucket (not per item): ``qps`` tokens per second, ``burst`` at most.

    The bucket starts full.  Every ``when()`` takes a token and returns how long until that
    token is there; tokens may go negative, so reservations accumulate (with 10 qps, burst
    100: 100 calls at once get 0, then each further call waits 0.1 s longer than the last).
    This is ``x/time/rate``'s ``Reserve().Delay()``.  ``qps=math.inf`` never delays;
    ``qps=0`` allows ``burst`` calls and then delays forever (``math.inf``).

    Time is trio's clock by default; pass *clock* (a function returning seconds) to use
    another, e.g. outside a trio run.
    """

    __slots__ = ("_burst", "_clock", "_last", "_qps", "_tokens")

    def __init__(self, qps: float, burst: int, *, clock: Callable[[], float] | None = None) -> None:
        if qps < 0 or math.isnan(qps):
            raise ValueError(f"qps must be >= 0, got {qps!r}")
        self._qps = float(qps)
        self._burst = burst
        self._tokens = float(burst)
        self._last: float | None = None
        self._clock = trio.current_time if clock is None else clock

    def when(self, item: Hashable) -> float:
        qps = self._qps
        if qps == math.inf:
            return 0.0
        if self._burst < 1:
            # x/time/rate refuses a reservation bigger than the burst: Delay() is "infinite".
            return math.inf
        now = self._clock()
        last = self._last
        if last is None or now < last:
            last = now
        tokens = self._tokens + (now - last) * qps
        burst = float(self._burst)
        tokens = min(tokens, burst)
        tokens -= 1.0
        if tokens >= 0:
            wait = 0.0
        elif qps == 0:
            wait = math.inf
        else:
            wait = -tokens / qps
        self._last = now
        self._tokens = tokens
        return wait

    def forget(self, item: Hashable) -> None:
        """The bucket tracks no items."""

    def num_requeues(self, item: Hashable) -> int:
        """Always 0: the bucket tracks no items."""
        return 0

    @property
    def tokens(self) -> float:
        """Tokens in the bucket as of the last ``when()`` (negative: reserved ahead)."""
        return self._tokens


@final
class MaxOfRateLimiter:
    """The longest delay of several limiters.  Every limiter's ``when()`` is called each time."""

    __slots__ = ("_limiters",)

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        return max([limiter.when(item) for limiter in self._limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


@final
class WithMaxWaitRateLimiter:
    """Another limiter's delay, but never more than ``max_delay``."""

    __slots__ = ("_limiter", "_max")

    def __init__(self, limiter: RateLimiter, max_delay: float) -> None:
        self._limiter = limiter
        self._max = _to_ns(max_delay) / _NS

    def when(self, item: Hashable) -> float:
        return min(self._limiter.when(item), self._max)

    def forget(self, item: Hashable) -> None:
        self._limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self._limiter.num_requeues(item)


def default_controller_rate_limiter() -> MaxOfRateLimiter:
    """client-go's controller default: the longer of a per-item exponential backoff (5 ms
    doubling up to 1000 s) and an overall token bucket of 10 qps with a burst of 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(10.0, 100),
    )


def default_item_based_rate_limiter() -> ItemExponentialFailureRateLimiter:
    """client-go's item-based default: per-item exponential backoff, 1 ms doubling up to 1000 s."""
    return ItemExponentialFailureRateLimiter(0.001, 1000.0)
