"""ThreadAdder: adds from real threads reach the queue, in order, errors where they belong."""

from __future__ import annotations

import logging
import threading

import pytest
import trio

from vk_trio.queue import DelayingQueue, ThreadAdder, WorkQueue


async def test_adds_from_many_real_threads_all_arrive() -> None:
    queue: WorkQueue[tuple[int, int]] = WorkQueue()
    adder = ThreadAdder(queue)
    assert adder.queue is queue
    assert adder.trio_token is trio.lowlevel.current_trio_token()

    def produce(thread: int) -> None:
        for n in range(100):
            if n % 2:
                adder.add((thread, n))
            else:
                adder.add_soon((thread, n))

    seen: list[tuple[int, int]] = []
    async with trio.open_nursery() as nursery:
        for thread in range(4):
            nursery.start_soon(trio.to_thread.run_sync, produce, thread)
        while len(seen) < 400:
            item = await queue.get()
            seen.append(item)
            queue.done(item)
    assert sorted(seen) == [(t, n) for t in range(4) for n in range(100)]
    # One thread's adds arrive in the order it made them.
    for thread in range(4):
        assert [n for t, n in seen if t == thread] == list(range(100))


async def test_a_plain_threading_thread_with_an_explicit_token() -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    token = trio.lowlevel.current_trio_token()
    errors: list[BaseException] = []

    def run() -> None:
        adder = ThreadAdder(queue, trio_token=token)  # created outside trio: token given
        adder.add("now")
        adder.add_after("soon", 0.01)
        try:
            adder.add(["unhashable"])  # type: ignore[arg-type]
        except TypeError as exc:
            errors.append(exc)
        adder.shut_down()

    thread = threading.Thread(target=run)
    thread.start()
    await trio.to_thread.run_sync(thread.join)
    assert len(errors) == 1  # raised in the thread that made the bad add
    assert queue.shutting_down
    assert await queue.get() == "now"  # added before the shutdown; "soon" was dropped
    assert queue.statistics().delayed == 0


async def test_add_after_needs_a_delaying_queue() -> None:
    adder = ThreadAdder(WorkQueue[str]())

    def run() -> None:
        adder.add_after("x", 1)

    with pytest.raises(TypeError, match="add_after needs a DelayingQueue"):
        await trio.to_thread.run_sync(run)


async def test_add_refuses_the_trio_thread_but_add_soon_works_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue: WorkQueue[object] = WorkQueue()
    adder = ThreadAdder(queue)
    with pytest.raises(RuntimeError):
        adder.add("x")
    adder.add_soon("x")
    with caplog.at_level(logging.ERROR, logger="vk_trio.queue"):
        adder.add_soon(["unhashable"])  # logged, does not crash the run
        assert await queue.get() == "x"
        await trio.testing.wait_all_tasks_blocked()
    assert any("add_soon" in r.getMessage() for r in caplog.records)


def test_after_the_run_ends_adds_raise_run_finished_error() -> None:
    async def make() -> ThreadAdder[str]:
        return ThreadAdder(WorkQueue[str]())

    adder = trio.run(make)
    with pytest.raises(trio.RunFinishedError):
        adder.add_soon("x")
    thread_errors: list[BaseException] = []

    def run() -> None:
        try:
            adder.add("x")
        except BaseException as exc:
            thread_errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert [type(e) for e in thread_errors] == [trio.RunFinishedError]
