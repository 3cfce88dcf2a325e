"""``run_workers``: the process-next-item loop every controller writes, written once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol, TypeVar

import trio

from ._queue import QueueShutDown

__all__ = ["FailureHook", "WorkerQueue", "run_workers"]

T = TypeVar("T", bound=Hashable)

logger = logging.getLogger("vk_trio.queue")


class WorkerQueue(Protocol[T]):
    """What :func:`run_workers` needs from a queue.

    :class:`RateLimitingQueue` has all of it; a test double or a wrapper (one that logs, or
    routes retries elsewhere) only needs these five members.  ``get()`` must raise
    :class:`QueueShutDown` when there is nothing left to do.
    """

    @property
    def name(self) -> str | None:
        """Used in log lines."""
        ...

    async def get(self) -> T:
        """The next item; :class:`QueueShutDown` ends the worker."""
        ...

    def done(self, item: T) -> None:
        """Called once for every item ``get()`` returned."""
        ...

    def forget(self, item: T) -> None:
        """Called after the handler succeeded, and when an item is dropped."""
        ...

    def add_rate_limited(self, item: T) -> None:
        """Called after the handler failed and the item is to be retried."""
        ...


#: ``hook(item, error, attempt)``: *attempt* counts the item's failures in a row, from 1.
FailureHook = Callable[[T, Exception, int], object]


def _log_failure(name: str | None, item: object, error: Exception, attempt: int) -> None:
    # One line per retry (a failing item retries many times); the traceback only at debug
    # level, and in full when the item is finally dropped.
    logger.warning(
        "queue %s: handling %r failed (attempt %d), retrying: %s: %s",
        name,
        item,
        attempt,
        type(error).__name__,
        error,
        exc_info=logger.isEnabledFor(logging.DEBUG),
    )


def _log_drop(name: str | None, item: object, error: Exception, attempts: int) -> None:
    logger.error(
        "queue %s: dropping %r after %d failed attempts",
        name,
        item,
        attempts,
        exc_info=error,
    )


def _call_hook(hook: Callable[..., object], *args: object) -> None:
    """Run an embedder's hook; its own failure is logged, never allowed to stop the worker."""
    try:
        hook(*args)
    except Exception:
        logger.exception("run_workers: the hook %r raised", hook)


async def run_workers(
    queue: WorkerQueue[T],
    handler: Callable[[T], Awaitable[object]],
    *,
    workers: int = 1,
    max_retries: int | None = None,
    on_failure: FailureHook[T] | None = None,
    on_drop: FailureHook[T] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run *workers* tasks that take items from *queue* and ``await handler(item)``.

    For every item: if the handler returns, the item is forgotten by the rate limiter; if it
    raises an ``Exception``, the item is re-added with ``add_rate_limited`` — unless it has now
    failed ``max_retries`` times in a row after its first attempt, in which case it is forgotten
    and dropped (so the handler is called at most ``1 + max_retries`` times for one run of
    failures; ``None`` retries forever).  ``done(item)`` is called in every case.  The failure
    count is kept here, not taken from the rate limiter, so the bound holds whatever limiter the
    queue uses.

    *queue* is anything with the :class:`WorkerQueue` members (a :class:`RateLimitingQueue`, or
    a fake one in a test).

    Hooks, called synchronously in the worker task (they must not block; an exception they raise
    is logged and ignored):

    * ``on_failure(item, error, attempt)`` after every failure, the last one included;
      *attempt* is 1 for the first failure in a row.  Default: a warning per retry on the
      ``vk_trio.queue`` logger (none for the failure that drops the item).
    * ``on_drop(item, error, attempts)`` when an item is dropped after ``max_retries``.
      Default: an error log with the traceback.

    Passing a hook replaces the default log line, so an embedder counts or logs failures its
    own way.

    Start it with ``nursery.start(run_workers, queue, handler)`` to wait until the workers are
    running (``task_status.started()`` is called once they are all spawned), or with
    ``start_soon``.  Returns once the queue is shut down and drained: every worker has seen
    :class:`QueueShutDown`, so nothing is waiting or being processed.  Cancellation and other
    ``BaseException`` s from the handler propagate (after ``done()``) and stop all workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if max_retries is not None and max_retries < 0:
        raise ValueError(f"max_retries must be >= 0 or None, got {max_retries!r}")
    failures: dict[T, int] = {}

    async def worker() -> None:
        get = queue.get
        while True:
            try:
                item = await get()
            except QueueShutDown:
                return
            try:
                await handler(item)
            except Exception as exc:
                failed = failures.get(item, 0) + 1
                dropping = max_retries is not None and failed > max_retries
                if on_failure is not None:
                    _call_hook(on_failure, item, exc, failed)
                elif not dropping:
                    _log_failure(queue.name, item, exc, failed)
                if dropping:
                    failures.pop(item, None)
                    queue.forget(item)
                    if on_drop is not None:
                        _call_hook(on_drop, item, exc, failed)
                    else:
                        _log_drop(queue.name, item, exc, failed)
                else:
                    failures[item] = failed
                    queue.add_rate_limited(item)
            else:
                failures.pop(item, None)
                queue.forget(item)
            finally:
                queue.done(item)

    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(worker)
        task_status.started()
