"""The issue's embedder trial as a test: dataclass keys, 4 workers, delays, retries, a thread."""

from __future__ import annotations

import dataclasses

import trio
import trio.testing

from vk_trio.queue import (
    ItemExponentialFailureRateLimiter,
    RateLimitingQueue,
    ThreadAdder,
    run_workers,
)


@dataclasses.dataclass(frozen=True, order=True)
class Key:
    namespace: str
    name: str


async def test_a_small_controller_with_dataclass_keys(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: RateLimitingQueue[Key] = RateLimitingQueue(
        ItemExponentialFailureRateLimiter(0.5, 10), name="trial"
    )
    handled: dict[Key, int] = {}
    dropped: list[Key] = []
    broken = Key("default", "broken")
    in_flight: set[Key] = set()

    async def reconcile(key: Key) -> None:
        assert key not in in_flight  # stingy: never two workers on one key
        in_flight.add(key)
        try:
            handled[key] = handled.get(key, 0) + 1
            await trio.sleep(0.1)
            if key == broken:
                raise RuntimeError("cannot reconcile")
        finally:
            in_flight.discard(key)

    def from_thread(adder: ThreadAdder[Key]) -> None:
        for n in range(10):
            adder.add(Key("threads", f"k{n % 5}"))  # duplicates of queued keys collapse or re-run

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_workers(
                queue,
                reconcile,
                workers=4,
                max_retries=3,
                on_drop=lambda key, error, attempts: dropped.append(key),
                task_status=task_status,
            )
        )
        for n in range(8):
            queue.add(Key("default", f"pod-{n}"))
        queue.add(broken)
        queue.add_after(Key("later", "x"), 5)
        await trio.to_thread.run_sync(from_thread, ThreadAdder(queue))
        await queue.join()
        assert trio.current_time() >= 5  # waited for the delayed key too
        await queue.shut_down_with_drain()

    assert dropped == [broken]
    assert handled[broken] == 1 + 3
    assert handled[Key("later", "x")] == 1
    assert all(handled[Key("default", f"pod-{n}")] == 1 for n in range(8))
    assert {k for k in handled if k.namespace == "threads"} == {
        Key("threads", f"k{n}") for n in range(5)
    }
    assert queue.num_requeues(broken) == 0
