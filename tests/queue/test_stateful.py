"""A hypothesis state machine drives a real queue and a plain reference model side by side.

The model is deliberately naive: lists and sets, every delayed item checked on every step, no
heap, no hand-off, no timers.  The real queue runs inside trio on a manual ``MockClock``; tasks
blocked in ``get()`` and ``shut_down_with_drain()`` are real trio tasks.  Hypothesis runs in a
worker thread and performs each step in the trio thread through ``trio.from_thread.run``, so
the steps themselves can start tasks and let them run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import attrs
import hypothesis.strategies as st
import trio
import trio.testing
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vk_trio.queue import DelayingQueue, QueueShutDown, QueueStatistics

ITEMS = st.integers(min_value=0, max_value=5)
DELAYS = st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 3.5])
STEPS = st.sampled_from([0.25, 0.5, 1.0, 2.0])

WOULD_BLOCK = "would block"
SHUT_DOWN = "shut down"
CANCELLED = "cancelled"


@attrs.define
class Model:
    """The reference: client-go's rules written out as directly as possible."""

    now: float = 0.0
    queue: list[int] = attrs.field(factory=list)
    dirty: set[int] = attrs.field(factory=set)
    processing: set[int] = attrs.field(factory=set)
    delayed: dict[int, tuple[float, int]] = attrs.field(factory=dict)
    seq: int = 0
    waiting: list[int] = attrs.field(factory=list)  # getter ids, first come first served
    results: dict[int, object] = attrs.field(factory=dict)
    shutting_down: bool = False
    drains: dict[int, bool] = attrs.field(factory=dict)  # drain id -> returned
    joins: dict[int, bool] = attrs.field(factory=dict)  # join id -> returned

    def promote(self) -> None:
        due = sorted((t, s, item) for item, (t, s) in self.delayed.items() if t <= self.now)
        for _, _, item in due:
            del self.delayed[item]
            self._enqueue(item)
        self._serve_waiting()

    def _enqueue(self, item: int) -> None:
        if item in self.dirty:
            return
        self.dirty.add(item)
        if item not in self.processing:
            self.queue.append(item)

    def _take(self) -> int:
        item = self.queue.pop(0)
        self.dirty.discard(item)
        self.processing.add(item)
        return item

    def _serve_waiting(self) -> None:
        while self.waiting and self.queue:
            self.results[self.waiting.pop(0)] = self._take()

    def add(self, item: int) -> None:
        self.promote()
        if not self.shutting_down:
            self._enqueue(item)
            self._serve_waiting()

    def add_after(self, item: int, delay: float) -> None:
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready = self.now + delay
        if item in self.delayed and self.delayed[item][0] <= ready:
            return
        self.seq += 1
        self.delayed[item] = (ready, self.seq)

    def get_nowait(self) -> object:
        self.promote()
        if self.queue:
            return self._take()
        return SHUT_DOWN if self.shutting_down else WOULD_BLOCK

    def start_get(self, getter: int) -> None:
        self.promote()
        if self.queue:
            self.results[getter] = self._take()
        elif self.shutting_down:
            self.results[getter] = SHUT_DOWN
        else:
            self.waiting.append(getter)

    def cancel_get(self, getter: int) -> None:
        if getter in self.waiting:
            self.waiting.remove(getter)
            self.results[getter] = CANCELLED

    def done(self, item: int) -> None:
        self.processing.remove(item)
        self.promote()
        if item in self.dirty:
            self.queue.append(item)
            self._serve_waiting()
        if not self.processing:
            self._finish_drains()
        self._finish_joins()

    def start_join(self, join: int) -> None:
        self.promote()
        self.joins[join] = False
        self._finish_joins()

    def _finish_joins(self) -> None:
        # Idle: nothing waiting, nothing processing, nothing delayed.
        if not self.queue and not self.processing and not self.delayed:
            for join in self.joins:
                self.joins[join] = True

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.promote()

    def shut_down(self) -> None:
        self._begin_shutdown()
        self._finish_drains()
        self._finish_joins()

    def start_drain(self, drain: int) -> None:
        self._begin_shutdown()
        self.drains[drain] = False
        if not self.processing:
            self._finish_drains()
        self._finish_joins()

    def _begin_shutdown(self) -> None:
        self.shutting_down = True
        self.delayed.clear()
        for getter in self.waiting:
            self.results[getter] = SHUT_DOWN
        self.waiting.clear()

    def _finish_drains(self) -> None:
        for drain in self.drains:
            self.drains[drain] = True


def make_machine(
    nursery: trio.Nursery, clock: trio.testing.MockClock
) -> type[RuleBasedStateMachine]:
    def in_trio(fn: Callable[[], Awaitable[Any]]) -> Any:
        return trio.from_thread.run(fn)

    class QueueMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # The clock carries on from the previous example; the model starts where it is.
            self.model = Model(now=in_trio(self._now))
            self.queue: DelayingQueue[int] = DelayingQueue()
            self.results: dict[int, object] = {}
            self.scopes: dict[int, trio.CancelScope] = {}
            self.drains: dict[int, bool] = {}
            self.joins: dict[int, bool] = {}
            self.join_scopes: list[trio.CancelScope] = []
            self.next_id = 0

        async def _now(self) -> float:
            return trio.current_time()

        def _run(self, fn: Callable[[], object]) -> object:
            async def step() -> object:
                result = fn()
                await trio.testing.wait_all_tasks_blocked()
                return result

            return in_trio(step)

        @rule(item=ITEMS)
        def add(self, item: int) -> None:
            self._run(lambda: self.queue.add(item))
            self.model.add(item)

        @rule(item=ITEMS, delay=DELAYS)
        def add_after(self, item: int, delay: float) -> None:
            self._run(lambda: self.queue.add_after(item, delay))
            self.model.add_after(item, delay)

        @rule()
        def get_nowait(self) -> None:
            def call() -> object:
                try:
                    return self.queue.get_nowait()
                except trio.WouldBlock:
                    return WOULD_BLOCK
                except QueueShutDown:
                    return SHUT_DOWN

            assert self._run(call) == self.model.get_nowait()

        @rule()
        def start_get(self) -> None:
            getter = self.next_id
            self.next_id += 1
            scope = self.scopes[getter] = trio.CancelScope()

            async def get() -> None:
                with scope:
                    try:
                        self.results[getter] = await self.queue.get()
                    except QueueShutDown:
                        self.results[getter] = SHUT_DOWN
                    return
                self.results[getter] = CANCELLED

            self._run(lambda: nursery.start_soon(get))
            self.model.start_get(getter)

        @precondition(lambda self: bool(self.model.waiting))
        @rule(data=st.data())
        def cancel_get(self, data: st.DataObject) -> None:
            getter = data.draw(st.sampled_from(self.model.waiting))
            self._run(self.scopes[getter].cancel)
            self.model.cancel_get(getter)

        @precondition(lambda self: bool(self.model.processing))
        @rule(data=st.data())
        def done(self, data: st.DataObject) -> None:
            item = data.draw(st.sampled_from(sorted(self.model.processing)))
            self._run(lambda: self.queue.done(item))
            self.model.done(item)

        @rule(seconds=STEPS)
        def advance(self, seconds: float) -> None:
            self._run(lambda: clock.jump(seconds))
            self.model.advance(seconds)

        @rule()
        def shut_down(self) -> None:
            self._run(self.queue.shut_down)
            self.model.shut_down()

        @rule()
        def shut_down_with_drain(self) -> None:
            drain = self.next_id
            self.next_id += 1
            self.drains[drain] = False

            async def run_drain() -> None:
                await self.queue.shut_down_with_drain()
                self.drains[drain] = True

            self._run(lambda: nursery.start_soon(run_drain))
            self.model.start_drain(drain)

        @rule()
        def join(self) -> None:
            join = self.next_id
            self.next_id += 1
            self.joins[join] = False
            scope = trio.CancelScope()
            self.join_scopes.append(scope)

            async def run_join() -> None:
                with scope:
                    await self.queue.join()
                    self.joins[join] = True

            self._run(lambda: nursery.start_soon(run_join))
            self.model.start_join(join)

        @invariant()
        def agrees_with_the_model(self) -> None:
            # First what the tasks saw (before anything here touches the queue: a call such
            # as statistics() promotes due items itself and would hide a missed timer) ...
            assert self.results == self.model.results
            assert self.drains == self.model.drains
            assert self.joins == self.model.joins
            # ... then the counts.
            self.model.promote()
            stats = cast("QueueStatistics", self._run(self.queue.statistics))
            model = self.model
            assert stats.waiting == len(model.queue)
            assert stats.processing == len(model.processing)
            assert stats.requeue_on_done == len(model.processing & model.dirty)
            assert stats.delayed == len(model.delayed)
            assert stats.tasks_waiting == len(model.waiting)
            assert stats.shutting_down == model.shutting_down
            assert self.results == model.results

        def teardown(self) -> None:
            # Release every task this example started, so none outlives it.
            self._run(self.queue.shut_down)
            assert all(self.drains.values())
            for scope in self.join_scopes:  # a join can wait for ever (items left unprocessed)
                self._run(scope.cancel)
            assert set(self.results) == set(self.scopes)

    return QueueMachine


async def test_queue_agrees_with_the_reference_model(mock_clock: trio.testing.MockClock) -> None:
    machine_settings = settings(
        max_examples=150, stateful_step_count=40, deadline=None, database=None
    )
    async with trio.open_nursery() as nursery:
        await trio.to_thread.run_sync(
            lambda: run_state_machine_as_test(
                make_machine(nursery, mock_clock), settings=machine_settings
            )
        )
