"""``run_workers``: the process-next-item loop every controller writes, written once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

import trio

from ._rate_limiting import RateLimitingQueue

__all__ = ["run_workers"]

T = TypeVar("T", bound=Hashable)

logger = logging.getLogger("vk_trio.queue")


async def run_workers(
    queue: RateLimitingQueue[T],
    handler: Callable[[T], Awaitable[object]],
    *,
    workers: int = 1,
    max_retries: int | None = None,
) -> None:
    """Run *workers* tasks that take items from *queue* and ``await handler(item)``.

    For every item: if the handler returns, the item is forgotten by the rate limiter; if it
    raises an ``Exception``, the failure is logged and the item is re-added with
    ``add_rate_limited`` — unless it has now failed ``max_retries`` times in a row after its
    first attempt, in which case it is forgotten and dropped with an error log (so the handler
    is called at most ``1 + max_retries`` times for one run of failures; ``None`` retries
    forever).  ``done(item)`` is called in every case.  The failure count is kept here, not
    taken from the rate limiter, so the bound holds whatever limiter the queue uses.

    Returns once the queue is shut down and drained: every worker has seen
    :class:`QueueShutDown`, so nothing is waiting or being processed.  Cancellation and other
    ``BaseException`` s from the handler propagate (after ``done()``) and stop all workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if max_retries is not None and max_retries < 0:
        raise ValueError(f"max_retries must be >= 0 or None, got {max_retries!r}")
    failures: dict[T, int] = {}

    async def worker() -> None:
        async for item in queue:
            try:
                await handler(item)
            except Exception as exc:
                failed = failures.get(item, 0) + 1
                if max_retries is not None and failed > max_retries:
                    failures.pop(item, None)
                    queue.forget(item)
                    logger.error(
                        "queue %s: dropping %r after %d failed attempts",
                        queue.name,
                        item,
                        failed,
                        exc_info=True,
                    )
                else:
                    failures[item] = failed
                    # One line per retry (a failing item retries many times); the traceback
                    # only at debug level, and in full when the item is finally dropped.
                    logger.warning(
                        "queue %s: handling %r failed (attempt %d), retrying: %s: %s",
                        queue.name,
                        item,
                        failed,
                        type(exc).__name__,
                        exc,
                        exc_info=logger.isEnabledFor(logging.DEBUG),
                    )
                    queue.add_rate_limited(item)
            else:
                failures.pop(item, None)
                queue.forget(item)
            finally:
                queue.done(item)

    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(worker)
