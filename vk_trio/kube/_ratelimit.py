"""Client-side request rate limiting: a token bucket on trio's clock.

client-go throttles every client to 5 requests/s with a burst of 10 unless told
otherwise, and that default is the best-known throughput trap of the Go
Virtual Kubelet (about 5 status updates per second per node).  The API server
protects itself with priority and fairness (429 + Retry-After, which the client
honours), so the client-side bucket is only a politeness bound: on by default
with generous numbers, configurable, off with ``qps=None``, and never applied
to watches (a watch is one long request, not a rate).

The bucket hands out *reservations*: a caller that finds it empty takes a
token from the future and sleeps until that token would have been minted.
That is O(1), first-come first-served, and needs no background task.  A caller
cancelled while sleeping gives its token back.
"""

from __future__ import annotations

from typing import final

import attrs
import trio

__all__ = ["RateLimiterStatistics", "TokenBucket"]


@final
@attrs.frozen
class RateLimiterStatistics:
    """Tokens ``acquired``, how many of them were ``delayed``, and the seconds ``waited``."""

    qps: float
    burst: int
    acquired: int
    delayed: int
    waited: float


@final
class TokenBucket:
    """``qps`` tokens per second, at most ``burst`` saved up; starts full."""

    def __init__(self, qps: float, burst: int) -> None:
        if not qps > 0:
            raise ValueError(f"qps must be positive, not {qps!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self._qps = float(qps)
        self._burst = burst
        self._tokens = float(burst)
        self._last: float | None = None
        self._acquired = 0
        self._delayed = 0
        self._waited = 0.0

    def _refill(self, now: float) -> None:
        last = self._last
        if last is None:
            self._last = now
            return
        if now > last:
            self._tokens = min(float(self._burst), self._tokens + (now - last) * self._qps)
            self._last = now

    async def acquire(self) -> None:
        """Take one token, sleeping until it is due if the bucket is empty.

        Does not checkpoint when a token is available: the request that
        follows does, and this sits on the hot path of every request.
        """
        now = trio.current_time()
        self._refill(now)
        self._tokens -= 1.0
        self._acquired += 1
        if self._tokens >= 0.0:
            return
        delay = -self._tokens / self._qps
        self._delayed += 1
        try:
            await trio.sleep(delay)
        except BaseException:
            self._refill(trio.current_time())
            self._tokens = min(float(self._burst), self._tokens + 1.0)  # give it back
            self._acquired -= 1
            raise
        finally:
            self._waited += delay

    def statistics(self) -> RateLimiterStatistics:
        return RateLimiterStatistics(
            qps=self._qps,
            burst=self._burst,
            acquired=self._acquired,
            delayed=self._delayed,
            waited=self._waited,
        )
