"""The vk_trio.queue side of the queue benchmark: the same four scenarios as ``go/main.go``.

Every scenario uses a fresh unnamed :class:`RateLimitingQueue` with the default controller rate
limiter (no metrics), like the Go program; a "cycle" is one item added, handed out and done.
Each scenario runs ``reps`` times and reports the best run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing
from prometheus_client import CollectorRegistry

from vk_trio.queue import PrometheusMetricsProvider, RateLimitingQueue

WORKERS = 8


def single_task(n: int) -> float:
    """(a) One task: ``add`` → ``get_nowait`` → ``done``, n times."""
    queue: RateLimitingQueue[int] = RateLimitingQueue()
    add, get, done = queue.add, queue.get_nowait, queue.done
    start = time.perf_counter()
    for i in range(n):
        add(i)
        done(get())
    return time.perf_counter() - start


def single_task_with_metrics(n: int) -> float:
    """(a) with Prometheus metrics on (Python only: shows the price of metrics)."""
    queue: RateLimitingQueue[int] = RateLimitingQueue(
        name="bench", metrics=PrometheusMetricsProvider(CollectorRegistry())
    )
    add, get, done = queue.add, queue.get_nowait, queue.done
    start = time.perf_counter()
    for i in range(n):
        add(i)
        done(get())
    return time.perf_counter() - start


async def _hand_off(
    worker: Callable[[], Awaitable[None]],
    add: Callable[[int], object],
    n: int,
    finished: trio.Event,
) -> float:
    """Seconds for ``WORKERS`` parked ``worker`` tasks to take ``n`` items from ``add``.

    One producer adds the items, yielding after every ``WORKERS`` of them; (b) and its trio floor
    share this so the two differ only in what hands the items over.
    """
    async with trio.open_nursery() as nursery:
        for _ in range(WORKERS):
            nursery.start_soon(worker)
        await trio.testing.wait_all_tasks_blocked()
        checkpoint = trio.lowlevel.checkpoint
        start = time.perf_counter()
        for i in range(n):
            add(i)
            if i % WORKERS == WORKERS - 1:
                await checkpoint()
        await finished.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


async def eight_workers(n: int) -> float:
    """(b) Eight tasks wait in ``get()``; one producer adds n distinct items.

    The producer yields after every 8 adds, so each add hands its item to a task that is
    really waiting in ``get()`` (the path this scenario is about) rather than piling items up.
    """
    queue: RateLimitingQueue[int] = RateLimitingQueue()
    finished = trio.Event()
    processed = 0

    async def worker() -> None:
        nonlocal processed
        get, done = queue.get, queue.done
        while True:
            item = await get()
            done(item)
            processed += 1
            if processed == n:
                finished.set()

    return await _hand_off(worker, queue.add, n, finished)


async def eight_workers_trio_floor(n: int) -> float:
    """(b) without the queue: the bare trio floor for the same hand-off.

    Eight tasks wait in ``receive()`` on an unbounded memory channel; one producer
    ``send_nowait``s n items, yielding after every 8 exactly as in :func:`eight_workers`.  This is
    what trio itself costs to wake a parked task with a value and run it to its next park, so
    (b) divided by this is how close the queue comes to trio's own limit.
    """
    send, receive = trio.open_memory_channel[int](math.inf)
    finished = trio.Event()
    processed = 0

    async def worker() -> None:
        nonlocal processed
        get = receive.receive
        while True:
            await get()
            processed += 1
            if processed == n:
                finished.set()

    return await _hand_off(worker, send.send_nowait, n, finished)


def half_duplicates(n: int) -> float:
    """(c) Every item is added twice before it is handed out; the second add collapses."""
    queue: RateLimitingQueue[int] = RateLimitingQueue()
    add, get, done = queue.add, queue.get_nowait, queue.done
    start = time.perf_counter()
    for i in range(n):
        add(i)
        add(i)
        done(get())
    return time.perf_counter() - start


def pending_add_after(n: int, pending: int = 10_000) -> float:
    """(d) The single-task cycle while ``pending`` items wait an hour in ``add_after``."""
    queue: RateLimitingQueue[int] = RateLimitingQueue()
    for i in range(pending):
        queue.add_after(-1 - i, 3600.0)
    add, get, done = queue.add, queue.get_nowait, queue.done
    start = time.perf_counter()
    for i in range(n):
        add(i)
        done(get())
    elapsed = time.perf_counter() - start
    assert queue.statistics().delayed == pending
    return elapsed


def _best(reps: int, n: int, run: Callable[[int], float]) -> dict[str, Any]:
    best = min(run(n) for _ in range(reps))
    return {"cycles": n, "best_seconds": best, "cycles_per_sec": n / best}


async def _best_async(reps: int, n: int, run: Callable[[int], Awaitable[float]]) -> dict[str, Any]:
    times = [await run(n) for _ in range(reps)]
    best = min(times)
    return {"cycles": n, "best_seconds": best, "cycles_per_sec": n / best}


async def _queue_and_floor(reps: int, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(b) and its trio floor, interleaved run by run so that both see the same machine load."""
    queue_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(reps):
        queue_times.append(await eight_workers(n))
        floor_times.append(await eight_workers_trio_floor(n))
    return (
        {"cycles": n, "best_seconds": min(queue_times), "cycles_per_sec": n / min(queue_times)},
        {"cycles": n, "best_seconds": min(floor_times), "cycles_per_sec": n / min(floor_times)},
    )


def run(n: int, n_workers: int, reps: int) -> dict[str, dict[str, Any]]:
    """Run every scenario inside one trio run; returns ``{scenario: result}``."""

    async def main() -> dict[str, dict[str, Any]]:
        b_queue, b_floor = await _queue_and_floor(reps, n_workers)
        return {
            "a_single_task": _best(reps, n, single_task),
            "b_eight_workers": b_queue,
            "b_trio_floor": b_floor,
            "c_half_duplicates": _best(reps, n, half_duplicates),
            "d_pending_add_after": _best(reps, n, pending_add_after),
            "a_single_task_metrics_on": _best(reps, n, single_task_with_metrics),
        }

    return trio.run(main)
