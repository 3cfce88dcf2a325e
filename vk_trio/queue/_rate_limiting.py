"""The rate-limiting queue: ``add_rate_limited`` / ``forget`` / ``num_requeues``."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, TypeVar

import trio

from ._delaying import DelayingQueue
from ._rate_limiters import RateLimiter, default_controller_rate_limiter

if TYPE_CHECKING:
    from ._metrics import MetricsProvider

__all__ = ["RateLimitingQueue"]

T = TypeVar("T", bound=Hashable)


class RateLimitingQueue(DelayingQueue[T]):
    """A :class:`DelayingQueue` that asks a :class:`RateLimiter` how long to delay a retry.

    This is the queue controllers use: on failure ``add_rate_limited(item)``, on success
    ``forget(item)``, and ``done(item)`` either way.  The rate limiter defaults to
    :func:`default_controller_rate_limiter` (client-go's controller default).
    """

    __slots__ = ("_rate_limiter",)

    def __init__(
        self,
        rate_limiter: RateLimiter | None = None,
        *,
        name: str | None = None,
        metrics: MetricsProvider | None = None,
    ) -> None:
        super().__init__(name=name, metrics=metrics)
        self._rate_limiter: RateLimiter = (
            default_controller_rate_limiter() if rate_limiter is None else rate_limiter
        )

    @property
    def rate_limiter(self) -> RateLimiter:
        """The rate limiter deciding the delays."""
        return self._rate_limiter

    @trio.lowlevel.enable_ki_protection
    def add_rate_limited(self, item: T) -> None:
        """Add *item* after the delay its rate limiter decides.

        As in client-go, the limiter is consulted (and counts a failure) even when the queue is
        shutting down or the item is already waiting.
        """
        self.add_after(item, self._rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Clear the rate limiter's failure history of *item* (you still have to ``done()`` it)."""
        self._rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many times *item* has been re-added through the rate limiter since forgotten."""
        return self._rate_limiter.num_requeues(item)
