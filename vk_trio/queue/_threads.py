"""``ThreadAdder``: adding to a queue from threads and other synchronous code.

A queue belongs to one trio run and is not thread-safe (that is what keeps it lock-free).  Code
running in another thread — a callback of a C library, a watchdog, a ``trio.to_thread`` worker,
a signal handler thread — must therefore hand its adds to the trio thread.  trio has the two
primitives for that (``trio.from_thread.run_sync`` and ``TrioToken.run_sync_soon``); this wraps
them for the queue so the embedder does not have to remember which is which.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Generic, TypeVar, final

import trio

from ._delaying import DelayingQueue
from ._queue import WorkQueue

__all__ = ["ThreadAdder"]

T = TypeVar("T", bound=Hashable)

logger = logging.getLogger("vk_trio.queue")


@final
class ThreadAdder(Generic[T]):
    """Adds to *queue* from any thread.

    Create it inside the trio run that uses the queue (it remembers that run's
    ``trio.lowlevel.current_trio_token()``), or pass *trio_token* to create it anywhere.  Then,
    from any thread:

    * ``add(item)`` / ``add_after(item, delay)`` / ``shut_down()`` run the queue method in the
      trio thread and return once it has run; exceptions (e.g. an unhashable item) are raised
      in the calling thread.  They block the calling thread briefly, so they cannot be called
      from the trio thread itself (``RuntimeError``): there, call the queue directly.
    * ``add_soon(item)`` never blocks and works from any thread, the trio thread included: it
      schedules the add and returns at once.  The add happens in order with other ``*_soon``
      calls from the same thread; an error is logged (there is no caller to raise it to).

    All of them raise ``trio.RunFinishedError`` once the trio run has ended.
    """

    __slots__ = ("_queue", "_token")

    def __init__(
        self, queue: WorkQueue[T], *, trio_token: trio.lowlevel.TrioToken | None = None
    ) -> None:
        self._queue = queue
        self._token = trio.lowlevel.current_trio_token() if trio_token is None else trio_token

    @property
    def queue(self) -> WorkQueue[T]:
        """The queue added to."""
        return self._queue

    @property
    def trio_token(self) -> trio.lowlevel.TrioToken:
        """The token of the trio run the queue lives in."""
        return self._token

    def add(self, item: T) -> None:
        """``queue.add(item)`` in the trio thread; returns once it is added."""
        trio.from_thread.run_sync(self._queue.add, item, trio_token=self._token)

    def add_after(self, item: T, delay: float) -> None:
        """``queue.add_after(item, delay)`` in the trio thread (a :class:`DelayingQueue`)."""
        queue = self._queue
        if not isinstance(queue, DelayingQueue):
            raise TypeError(f"add_after needs a DelayingQueue, not {type(queue).__name__}")
        trio.from_thread.run_sync(queue.add_after, item, delay, trio_token=self._token)

    def shut_down(self) -> None:
        """``queue.shut_down()`` in the trio thread (e.g. from a signal-watching thread)."""
        trio.from_thread.run_sync(self._queue.shut_down, trio_token=self._token)

    def add_soon(self, item: T) -> None:
        """Schedule ``queue.add(item)`` in the trio thread and return at once (never blocks)."""
        self._token.run_sync_soon(self._add_logged, item)

    def _add_logged(self, item: T) -> None:
        # Runs as a trio system callback: an exception escaping it would crash the whole run.
        try:
            self._queue.add(item)
        except Exception:
            logger.exception("queue %s: add_soon(%r) failed", self._queue.name, item)
