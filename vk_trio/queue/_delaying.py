"""The delaying queue: ``add_after`` on top of :class:`WorkQueue`."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import TYPE_CHECKING, TypeVar

import trio

from ._queue import WorkQueue

if TYPE_CHECKING:
    from ._metrics import MetricsProvider

__all__ = ["DelayingQueue"]

T = TypeVar("T", bound=Hashable)


class DelayingQueue(WorkQueue[T]):
    """A :class:`WorkQueue` whose items can also be added after a delay.

    The delay is measured on trio's clock.  There is no background task: the pending items sit
    in a heap inside the queue and become ready as the clock passes their time.  Every queue
    operation (``len()``, ``get_nowait()``, ``add()`` …) first moves the items whose time has come
    into the ready queue, and a ``get()`` that waits wakes at the earliest ready time.

    If an item is scheduled more than once, the earliest time wins (a later one is ignored);
    an item that is already waiting is not affected (when its scheduled time comes, the add
    collapses into it as any duplicate add does).  Items still pending when the queue shuts down
    are dropped.
    """

    __slots__ = ()

    def __init__(self, *, name: str | None = None, metrics: MetricsProvider | None = None) -> None:
        super().__init__(name=name, metrics=metrics)
        if self._metrics is not None and metrics is not None and name:
            self._metrics.retries = metrics.new_retries_metric(name)

    @trio.lowlevel.enable_ki_protection
    def add_after(self, item: T, delay: float) -> None:
        """Add *item* once *delay* seconds of trio time have passed (at once if ``delay <= 0``).

        Ignored once the queue is shutting down.  Counts as a retry in the metrics, as in
        client-go.  ``math.inf`` means "never" (the item stays pending until shutdown).
        """
        if self._shutting_down:
            return
        if math.isnan(delay):  # NaN would corrupt the heap order
            raise ValueError("add_after: delay is NaN")
        if self._metrics is not None:
            self._metrics.retry()
        if delay <= 0:
            self.add(item)
            return
        self._add_after(item, delay)
