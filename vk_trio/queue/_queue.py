"""The work queue: client-go's ``workqueue.Typed`` semantics on one trio thread.

Why the implementation looks the way it does
--------------------------------------------
* **No background task.** client-go runs a goroutine per delaying queue to move delayed items
  into the ready queue.  Here the delayed items live in a heap inside the queue itself and are
  *promoted lazily*: every operation first moves every item whose time has come (according to
  ``trio.current_time()``) into the ready queue.  A ``get()`` that has to wait while delayed items
  are pending parks with a deadline at the earliest ready time, so it wakes exactly when the first
  one becomes due.  Constructing a queue therefore needs no nursery, and ``MockClock`` drives every
  timing.

* **Hand-off instead of wake-and-retry.**  When an item becomes ready while tasks are parked in
  ``get()``, it is given *directly* to the task that has waited longest (the same way trio's
  memory channels hand a value to a parked receiver).  That gives strict FIFO fairness among
  waiters and means a woken task never finds its item stolen.  As a consequence the ready queue
  is never non-empty while tasks are parked, which keeps the fast paths to a couple of checks.

* **Only the longest waiter holds a timer.**  Cancel scopes with deadlines are the only timers
  trio has, and creating one costs several microseconds.  So a waiter parks inside a cancel scope
  only when it is first in line *and* delayed items are pending; every other waiter parks bare.
  When a bare waiter becomes first in line while delayed items are pending, it is woken once to
  re-park with a deadline (it keeps its place in line while it does so).

* **Lean hot path.**  ``add``/``get_nowait``/``done`` use plain ``deque``/``set`` operations, the
  metrics hooks are guarded by a single ``is not None`` test, and nothing is allocated per item.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, final

import attrs
import outcome
import trio

from ._metrics import _QueueMetrics

if TYPE_CHECKING:
    from ._metrics import MetricsProvider

__all__ = ["QueueShutDown", "QueueStatistics", "WorkQueue"]

T = TypeVar("T", bound=Hashable)

# KeyboardInterrupt must not land half-way through a state change (trio's own primitives are
# protected the same way; the protection is a code-object flag and costs nothing per call).
_ki_protected = trio.lowlevel.enable_ki_protection
_reschedule = trio.lowlevel.reschedule
_Value = outcome.Value
_heappop = heapq.heappop


class QueueShutDown(Exception):
    """Raised by ``get()``/``get_nowait()`` once the queue is shut down and has nothing left.

    Items that were already waiting when the queue was shut down are still handed out first;
    only an empty, shut-down queue raises this.
    """


@final
@attrs.frozen
class QueueStatistics:
    """A snapshot of a queue's state, returned by :meth:`WorkQueue.statistics`."""

    #: The queue's name (``None`` when unnamed).
    name: str | None
    #: Items ready to be handed out (what ``len(queue)`` returns).
    waiting: int
    #: Items handed out by ``get()`` and not yet ``done()``.
    processing: int
    #: Items being processed that were added again meanwhile; ``done()`` re-queues them.
    requeue_on_done: int
    #: Items scheduled by ``add_after`` whose time has not come yet.
    delayed: int
    #: Tasks currently blocked in ``get()``.
    tasks_waiting: int
    #: Whether ``shut_down()``/``shut_down_with_drain()`` has been called.
    shutting_down: bool
    #: Whether a ``shut_down_with_drain()`` is waiting for the processing set to empty.
    draining: bool


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


# Values a parked waiter can be woken with besides an item.
_RETRY: Any = _Sentinel("_RETRY")  # re-check and park again (to (re)arm the timer)
_SHUTDOWN: Any = _Sentinel("_SHUTDOWN")  # the queue shut down while waiting
_EMPTY: Any = _Sentinel("_EMPTY")  # nothing in the waiter's mailbox
# Marks a heap entry superseded by an earlier add_after of the same item.
_REMOVED: Any = _Sentinel("_REMOVED")


@final
class _Waiter:
    """A task blocked in ``get()``.

    ``parked`` is true while the task sits in ``wait_task_rescheduled``.  A waiter that is still
    in line but awake (woken with ``_RETRY`` to re-arm its timer) receives its item through
    ``item`` instead of through ``reschedule``.
    """

    __slots__ = ("item", "parked", "queue", "scope", "task")

    def __init__(self, queue: WorkQueue[Any], task: trio.lowlevel.Task) -> None:
        self.queue = queue
        self.task = task
        self.parked = False
        self.item: Any = _EMPTY
        self.scope: trio.CancelScope | None = None

    def abort(self, raise_cancel: Any) -> trio.lowlevel.Abort:
        queue = self.queue
        scope = self.scope
        if scope is not None and scope.cancel_called:
            # Our own deadline fired: the earliest delayed item is due.  Stay in line and let
            # the promotion hand it to us (we are first); if it collapsed into an item that is
            # already queued or processing, wake up to park again with the next deadline.
            self.scope = None
            if queue._delayed:
                queue._promote_due()
            if self.parked:
                self.parked = False
                _reschedule(self.task, _Value(_RETRY))
            return trio.lowlevel.Abort.FAILED
        # A real cancellation: leave the line without taking anything.
        waiters = queue._waiters
        was_first = waiters[0] is self
        waiters.remove(self)
        self.parked = False
        if was_first and waiters and queue._delayed:
            queue._arm_timer()
        return trio.lowlevel.Abort.SUCCEEDED


class WorkQueue(Generic[T]):
    """A fair, stingy work queue with client-go's ``workqueue`` semantics.

    * **Fair:** items are handed out in the order they became ready; tasks waiting in ``get()``
      are served in the order they started waiting.
    * **Stingy:** an item is never handed to two workers at once.  Adding an item that is
      already waiting is a no-op; adding an item that is being processed marks it so that
      ``done()`` puts it at the back of the queue again (however often it was added meanwhile).
    * **Shutdown:** after ``shut_down()`` new adds are ignored, items already waiting are still
      handed out, and ``get()`` raises :class:`QueueShutDown` once nothing is left.

    Items must be hashable.  The caller must pair every item it receives from ``get()`` or
    ``get_nowait()`` with one ``done(item)``.

    Constructing a queue needs no nursery and starts no task.  All methods except ``get()`` and
    ``shut_down_with_drain()`` are synchronous and never block.  Time is trio's clock: delays
    and metrics need a running trio (``add``/``get_nowait``/``done`` on a queue without metrics
    and without delayed items work anywhere).

    *name* labels the metrics; *metrics* (which requires a name) is the provider that creates
    them, e.g. :class:`PrometheusMetricsProvider`.  Without a provider the metrics hooks cost
    one ``is None`` test per operation.
    """

    __slots__ = (
        "_clock",
        "_delayed",
        "_delayed_at",
        "_dirty",
        "_drain_event",
        "_idle_event",
        "_metrics",
        "_name",
        "_processing",
        "_queue",
        "_seq",
        "_shutting_down",
        "_waiters",
    )

    def __init__(self, *, name: str | None = None, metrics: MetricsProvider | None = None) -> None:
        self._name = name
        #: Items ready to be handed out, in order.  Every one is in ``_dirty``.
        self._queue: deque[T] = deque()
        #: Items that need processing: the queued ones plus those re-added while processing.
        self._dirty: set[T] = set()
        #: Items handed out and not yet done.
        self._processing: set[T] = set()
        #: Tasks blocked in ``get()``, longest-waiting first; non-empty only while ``_queue``
        #: is empty.
        self._waiters: deque[_Waiter] = deque()
        #: Min-heap of ``[ready_time, seq, item]`` for ``add_after``; superseded entries hold
        #: ``_REMOVED`` and never sit at the top.
        self._delayed: list[list[Any]] = []
        #: The live heap entry of every delayed item (for "earliest add_after wins").
        self._delayed_at: dict[T, list[Any]] = {}
        self._seq = 0
        #: The clock of the trio run that last scheduled a delayed item.  Ready times are on
        #: this clock; calling it directly is several times cheaper than trio.current_time().
        self._clock: trio.abc.Clock | None = None
        self._shutting_down = False
        self._drain_event: trio.Event | None = None
        #: Set (and dropped) when the queue becomes idle; exists only while a join() waits.
        self._idle_event: trio.Event | None = None
        self._metrics: _QueueMetrics | None = None
        if metrics is not None:
            if not name:
                raise ValueError("a queue with metrics needs a name (the metrics' `name` label)")
            self._metrics = _QueueMetrics(metrics, name)

    # ----------------------------------------------------------------------------- producers

    @_ki_protected
    def add(self, item: T) -> None:
        """Mark *item* as needing processing.

        Ignored once the queue is shutting down, and when the item is already waiting.  An item
        that is being processed is queued again when its ``done()`` is called.
        """
        if self._delayed:
            self._promote_due()
        if self._shutting_down:
            return
        dirty = self._dirty
        if item in dirty:
            return
        if self._metrics is not None:
            self._metrics.add(item)
        if item in self._processing:
            dirty.add(item)
        elif self._waiters:
            self._hand_off(item)
        else:
            dirty.add(item)
            self._queue.append(item)

    def _add_after(self, item: T, delay: float) -> None:
        """Make *item* ready after *delay* > 0 seconds; an earlier pending time for it wins."""
        clock = self._clock = trio.lowlevel.current_clock()
        ready = clock.current_time() + delay
        entry = self._delayed_at.get(item)
        if entry is not None:
            if entry[0] <= ready:
                return
            entry[2] = _REMOVED
        self._seq += 1
        entry = [ready, self._seq, item]
        delayed = self._delayed
        heapq.heappush(delayed, entry)
        self._delayed_at[item] = entry
        if self._waiters and delayed[0] is entry:
            self._arm_timer()

    def _promote_due(self) -> None:
        """Move every delayed item whose time has come into the ready queue (caller checked
        that ``_delayed`` is non-empty)."""
        delayed = self._delayed
        assert self._clock is not None
        now = self._clock.current_time()
        if delayed[0][0] > now:
            return
        delayed_at = self._delayed_at
        while delayed and delayed[0][0] <= now:
            item = _heappop(delayed)[2]
            if item is _REMOVED:
                continue
            del delayed_at[item]
            self._enqueue(item)
        while delayed and delayed[0][2] is _REMOVED:
            _heappop(delayed)
        if self._waiters:
            self._arm_timer()

    def _enqueue(self, item: T) -> None:
        """``add()`` without the promotion and shutdown checks."""
        dirty = self._dirty
        if item in dirty:
            return
        if self._metrics is not None:
            self._metrics.add(item)
        if item in self._processing:
            dirty.add(item)
        elif self._waiters:
            self._hand_off(item)
        else:
            dirty.add(item)
            self._queue.append(item)

    def _hand_off(self, item: T) -> None:
        """Give a ready *item* (not in ``_dirty``) to the longest-waiting task."""
        waiters = self._waiters
        waiter = waiters.popleft()
        self._processing.add(item)
        if self._metrics is not None:
            self._metrics.get(item)
        if waiter.parked:
            waiter.parked = False
            _reschedule(waiter.task, _Value(item))
        else:
            waiter.item = item
        if waiters and self._delayed:
            self._arm_timer()

    def _arm_timer(self) -> None:
        """Give the first waiter a deadline at the earliest delayed item's ready time."""
        waiter = self._waiters[0]
        if not waiter.parked:
            return  # awake; it arms its own timer when it parks again
        scope = waiter.scope
        if scope is not None:
            scope.deadline = self._delayed[0][0] if self._delayed else math.inf
        elif self._delayed:
            waiter.parked = False
            _reschedule(waiter.task, _Value(_RETRY))

    # ----------------------------------------------------------------------------- consumers

    @_ki_protected
    def get_nowait(self) -> T:
        """Hand out the next ready item without waiting.

        Raises ``trio.WouldBlock`` when nothing is ready, or :class:`QueueShutDown` when the
        queue is shut down and empty.  Tasks blocked in ``get()`` are served first: this never
        takes an item that a waiting task is entitled to.
        """
        if self._delayed:
            self._promote_due()
        queue = self._queue
        if queue:
            item = queue.popleft()
            self._dirty.remove(item)
            self._processing.add(item)
            if self._metrics is not None:
                self._metrics.get(item)
            return item
        if self._shutting_down:
            raise QueueShutDown
        raise trio.WouldBlock

    @_ki_protected
    async def get(self) -> T:
        """Wait for the next ready item and hand it out (the caller must call ``done(item)``).

        Raises :class:`QueueShutDown` once the queue is shut down and nothing is left to hand
        out.  A checkpoint; cancelling a waiting ``get()`` loses no item.
        """
        if self._delayed:
            self._promote_due()
        queue = self._queue
        if queue:
            # Check for cancellation before taking the item (it raises or returns at once).
            await trio.lowlevel.checkpoint_if_cancelled()
            item = queue.popleft()
            self._dirty.remove(item)
            self._processing.add(item)
            if self._metrics is not None:
                self._metrics.get(item)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        if self._shutting_down:
            await trio.lowlevel.checkpoint()
            raise QueueShutDown
        # Wait in line.  Items are handed to us directly (see _hand_off).
        waiters = self._waiters
        waiter = _Waiter(self, trio.lowlevel.current_task())
        waiters.append(waiter)
        while True:
            if self._delayed and waiters[0] is waiter:
                with trio.CancelScope(deadline=self._delayed[0][0]) as scope:
                    waiter.scope = scope
                    waiter.parked = True
                    result = await trio.lowlevel.wait_task_rescheduled(waiter.abort)
                waiter.scope = None
            else:
                waiter.parked = True
                result = await trio.lowlevel.wait_task_rescheduled(waiter.abort)
            if result is not _RETRY:
                break
            # Woken to re-arm the timer; we are still in line unless something arrived.
            result = waiter.item
            if result is _EMPTY and self._delayed:
                self._promote_due()
                result = waiter.item
            if result is not _EMPTY:
                break
        if result is _SHUTDOWN:
            raise QueueShutDown
        return cast("T", result)

    @_ki_protected
    def done(self, item: T) -> None:
        """Mark *item*, handed out earlier, as finished.

        If it was added again while being processed, it goes to the back of the queue now.
        Works after shutdown too.  Raises ``ValueError`` if *item* is not being processed
        (client-go does not check this and can end up queueing the item twice).
        """
        processing = self._processing
        try:
            processing.remove(item)
        except KeyError:
            raise ValueError(f"done({item!r}): the item is not being processed") from None
        if self._metrics is not None:
            self._metrics.done(item)
        dirty = self._dirty
        if item in dirty:
            if self._delayed:
                self._promote_due()
            if self._waiters:
                dirty.remove(item)
                self._hand_off(item)
            else:
                self._queue.append(item)
        if not processing:
            if self._drain_event is not None:
                self._release_drain()
            if self._idle_event is not None and not self._queue and not self._delayed_at:
                self._release_idle()

    @_ki_protected
    def __len__(self) -> int:
        """The number of items ready to be handed out (not those being processed)."""
        if self._delayed:
            self._promote_due()
        return len(self._queue)

    def __aiter__(self) -> WorkQueue[T]:
        return self

    async def __anext__(self) -> T:
        """``async for item in queue:`` gets items until the queue is shut down and empty."""
        try:
            return await self.get()
        except QueueShutDown:
            raise StopAsyncIteration from None

    # ----------------------------------------------------------------------------- shutdown

    @property
    def shutting_down(self) -> bool:
        """Whether the queue has been shut down (with or without drain)."""
        return self._shutting_down

    @property
    def name(self) -> str | None:
        """The queue's name, used as the metrics' ``name`` label."""
        return self._name

    @_ki_protected
    def shut_down(self) -> None:
        """Stop accepting items; waiting ``get()`` calls raise :class:`QueueShutDown`.

        Items already waiting are still handed out; items pending in ``add_after`` are
        dropped.  A ``shut_down_with_drain()`` that is waiting returns.
        """
        self._begin_shutdown()
        if self._drain_event is not None:
            self._release_drain()

    @_ki_protected
    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until every item being processed is ``done()``.

        Like client-go, this waits for the processing set to become empty, not for items that
        are still waiting to be handed out; it also returns when ``shut_down()`` is called.
        If a worker never calls ``done()`` it waits forever (put a deadline around it).
        """
        self._begin_shutdown()
        if not self._processing:
            await trio.lowlevel.checkpoint()
            return
        event = self._drain_event
        if event is None:
            event = self._drain_event = trio.Event()
        await event.wait()

    def _begin_shutdown(self) -> None:
        if not self._shutting_down:
            self._shutting_down = True
            self._delayed.clear()
            self._delayed_at.clear()
            if self._metrics is not None:
                self._metrics.shut_down()
            if self._idle_event is not None and self._is_idle():
                self._release_idle()
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter.parked:
                waiter.parked = False
                _reschedule(waiter.task, _Value(_SHUTDOWN))
            else:
                waiter.item = _SHUTDOWN

    # ----------------------------------------------------------------------------- idle

    @_ki_protected
    async def join(self) -> None:
        """Wait until the queue is idle: nothing waiting, nothing processing, nothing delayed.

        Idle means no item is ready to be handed out, none is being processed (so none is
        marked to be re-queued by its ``done()``), and none is pending in ``add_after`` /
        ``add_rate_limited``: an item waiting for its retry counts as outstanding work, so
        ``join()`` also waits for its delay to pass and for it to be processed.  Returns at once
        (after a checkpoint) if the queue is idle already.  Shutting down does not make a queue
        idle by itself (it drops the delayed items, but items still waiting must be handed out
        and done); a queue nobody takes items from never becomes idle.

        There is no polling: the ``done()`` (or shutdown) that leaves the queue idle wakes every
        waiting ``join()``.  Work added after that wake-up is not waited for.
        """
        if self._delayed:
            self._promote_due()
        if self._is_idle():
            await trio.lowlevel.checkpoint()
            return
        event = self._idle_event
        if event is None:
            event = self._idle_event = trio.Event()
        await event.wait()

    def _is_idle(self) -> bool:
        return not self._queue and not self._processing and not self._delayed_at

    def _release_idle(self) -> None:
        event = self._idle_event
        assert event is not None
        self._idle_event = None
        event.set()

    def _release_drain(self) -> None:
        event = self._drain_event
        assert event is not None
        self._drain_event = None
        event.set()

    # ----------------------------------------------------------------------------- introspection

    @_ki_protected
    def statistics(self) -> QueueStatistics:
        """A snapshot of the queue's counts (see :class:`QueueStatistics`)."""
        if self._delayed:
            self._promote_due()
        processing = self._processing
        return QueueStatistics(
            name=self._name,
            waiting=len(self._queue),
            processing=len(processing),
            requeue_on_done=sum(1 for item in processing if item in self._dirty),
            delayed=len(self._delayed_at),
            tasks_waiting=len(self._waiters),
            shutting_down=self._shutting_down,
            draining=self._drain_event is not None,
        )

    def __repr__(self) -> str:
        name = "" if self._name is None else f" {self._name!r}"
        return (
            f"<{type(self).__name__}{name} waiting={len(self._queue)}"
            f" processing={len(self._processing)} delayed={len(self._delayed_at)}"
            f"{' shut down' if self._shutting_down else ''}>"
        )
