"""run_workers: the worker loop's retry, forget, done and shutdown rules."""

from __future__ import annotations

import logging

import attrs
import pytest
import trio
import trio.testing

from vk_trio.queue import (
    ItemExponentialFailureRateLimiter,
    QueueShutDown,
    RateLimitingQueue,
    WorkerQueue,
    run_workers,
)


def _queue() -> RateLimitingQueue[str]:
    return RateLimitingQueue(ItemExponentialFailureRateLimiter(1.0, 60.0), name="w")


async def test_successful_items_are_forgotten_and_done(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue = _queue()
    handled: list[str] = []

    async def handler(item: str) -> None:
        handled.append(item)

    queue.add_rate_limited("a")  # leaves a failure count of 1 in the limiter
    queue.add("b")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_workers, queue, handler)
        await trio.sleep(2)
        assert sorted(handled) == ["a", "b"]
        assert queue.num_requeues("a") == 0  # forgotten after success
        assert queue.statistics().processing == 0
        queue.shut_down()


async def test_failures_are_retried_with_the_rate_limiters_backoff(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue()
    calls: list[float] = []

    async def handler(item: str) -> None:
        calls.append(trio.current_time())
        if len(calls) < 4:
            raise RuntimeError("not yet")

    queue.add("x")
    with caplog.at_level(logging.WARNING, logger="vk_trio.queue"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_workers, queue, handler)
            await trio.sleep(100)
            queue.shut_down()
    # 1 s, 2 s, 4 s backoff between the attempts; success then forgets.
    assert calls == [0.0, 1.0, 3.0, 7.0]
    assert queue.num_requeues("x") == 0
    retries = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retries) == 3
    assert all(r.exc_info is not None for r in retries)
    assert "retrying" in retries[0].getMessage()


async def test_an_item_failing_max_retries_times_after_its_first_attempt_is_dropped(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue()
    calls = 0

    async def handler(item: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    queue.add("x")
    with caplog.at_level(logging.WARNING, logger="vk_trio.queue"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_workers(queue, handler, max_retries=3))
            await trio.sleep(1000)
            assert queue.statistics().delayed == 0
            assert len(queue) == 0
            queue.shut_down()
    assert calls == 1 + 3
    assert queue.num_requeues("x") == 0  # forgotten when dropped
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "dropping" in errors[0].getMessage()


async def test_max_retries_zero_means_a_single_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue = _queue()
    calls = 0

    async def handler(item: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("fails")

    queue.add("x")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_workers(queue, handler, max_retries=0))
        await trio.sleep(100)
        queue.shut_down()
    assert calls == 1


async def test_a_success_resets_the_run_of_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue = _queue()
    outcomes = iter([False, True, False, False, True])
    calls = 0

    async def handler(item: str) -> None:
        nonlocal calls
        calls += 1
        if not next(outcomes):
            raise RuntimeError("fails")

    queue.add("x")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_workers(queue, handler, max_retries=2))
        await trio.sleep(10)  # fail, succeed
        queue.add("x")
        await trio.sleep(100)  # fail, fail, succeed: 2 failures in a row are still allowed
        queue.shut_down()
    assert calls == 5


async def test_done_is_called_even_when_the_handler_is_cancelled() -> None:
    queue = _queue()
    started = trio.Event()

    async def handler(item: str) -> None:
        started.set()
        await trio.sleep_forever()

    queue.add("x")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_workers, queue, handler)
        await started.wait()
        assert queue.statistics().processing == 1
        nursery.cancel_scope.cancel()
    assert queue.statistics().processing == 0


async def test_returns_once_the_queue_is_shut_down_and_drained(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue = _queue()
    finished: list[str] = []

    async def handler(item: str) -> None:
        await trio.sleep(1)
        finished.append(item)

    for item in "abcdef":
        queue.add(item)
    queue.shut_down()  # waiting items are still processed
    await run_workers(queue, handler, workers=3)
    assert sorted(finished) == list("abcdef")
    assert trio.current_time() == 2.0  # 6 items, 3 workers, 1 s each
    assert len(queue) == 0
    assert queue.statistics().processing == 0


async def test_workers_run_concurrently_but_never_on_the_same_item(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue = _queue()
    active: set[str] = set()
    max_active = 0

    async def handler(item: str) -> None:
        nonlocal max_active
        assert item not in active
        active.add(item)
        max_active = max(max_active, len(active))
        queue.add(item)  # re-added while processing: processed again afterwards, not now
        await trio.sleep(1)
        active.discard(item)

    for item in ["a", "b", "c", "d"]:
        queue.add(item)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_workers(queue, handler, workers=8))
        await trio.sleep(5.5)
        queue.shut_down()
    assert max_active == 4


async def test_invalid_arguments_are_rejected() -> None:
    queue = _queue()

    async def handler(item: str) -> None:
        raise AssertionError("never called")  # pragma: no cover

    with pytest.raises(ValueError, match="workers"):
        await run_workers(queue, handler, workers=0)
    with pytest.raises(ValueError, match="max_retries"):
        await run_workers(queue, handler, max_retries=-1)


# ----------------------------------------------------------------- protocol, start, hooks


@attrs.define
class FakeQueue:
    """A WorkerQueue stand-in that records every call run_workers makes."""

    items: list[str]
    calls: list[tuple[str, str]] = attrs.field(factory=list)
    name: str | None = "fake"

    async def get(self) -> str:
        await trio.lowlevel.checkpoint()
        if not self.items:
            raise QueueShutDown
        return self.items.pop(0)

    def done(self, item: str) -> None:
        self.calls.append(("done", item))

    def forget(self, item: str) -> None:
        self.calls.append(("forget", item))

    def add_rate_limited(self, item: str) -> None:
        self.calls.append(("add_rate_limited", item))
        self.items.append(item)


async def test_a_fake_queue_satisfying_the_protocol_stands_in() -> None:
    fake = FakeQueue(["ok", "bad"])
    queue: WorkerQueue[str] = fake  # type-checks: the protocol, not the concrete class

    async def handler(item: str) -> None:
        if item == "bad":
            raise RuntimeError("bad item")

    await run_workers(queue, handler, max_retries=1, on_drop=lambda *args: None)
    assert fake.calls == [
        ("forget", "ok"),
        ("done", "ok"),
        ("add_rate_limited", "bad"),
        ("done", "bad"),
        ("forget", "bad"),  # dropped after 1 retry
        ("done", "bad"),
    ]


async def test_nursery_start_returns_once_the_workers_run() -> None:
    queue = _queue()
    handled: list[str] = []

    async def handler(item: str) -> None:
        handled.append(item)

    async with trio.open_nursery() as nursery:
        result = await nursery.start(
            lambda task_status: run_workers(queue, handler, workers=3, task_status=task_status)
        )
        assert result is None
        await trio.testing.wait_all_tasks_blocked()
        assert queue.statistics().tasks_waiting == 3  # all three are waiting in get()
        queue.add("a")
        await queue.join()
        assert handled == ["a"]
        queue.shut_down()


async def test_bad_arguments_surface_from_nursery_start() -> None:
    async def handler(item: str) -> None:
        raise AssertionError("never called")  # pragma: no cover

    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="workers must be >= 1"):
            await nursery.start(
                lambda task_status: run_workers(
                    _queue(), handler, workers=0, task_status=task_status
                )
            )


async def test_hooks_see_every_failure_and_the_drop_instead_of_the_log_lines(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue()
    failures: list[tuple[str, str, int]] = []
    drops: list[tuple[str, str, int]] = []

    async def handler(item: str) -> None:
        if item.startswith("bad"):
            raise RuntimeError(f"{item} failed")

    for item in ["good", "bad-1"]:
        queue.add(item)
    with caplog.at_level(logging.DEBUG, logger="vk_trio.queue"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: run_workers(
                    queue,
                    handler,
                    max_retries=2,
                    on_failure=lambda item, error, attempt: failures.append(
                        (item, str(error), attempt)
                    ),
                    on_drop=lambda item, error, attempts: drops.append(
                        (item, str(error), attempts)
                    ),
                )
            )
            await queue.join()
            queue.shut_down()
    assert failures == [("bad-1", "bad-1 failed", n) for n in (1, 2, 3)]
    assert drops == [("bad-1", "bad-1 failed", 3)]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert queue.num_requeues("bad-1") == 0


async def test_only_the_default_for_a_missing_hook_logs(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue()
    failures: list[int] = []

    async def handler(item: str) -> None:
        raise RuntimeError("always")

    queue.add("x")
    with caplog.at_level(logging.WARNING, logger="vk_trio.queue"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: run_workers(
                    queue, handler, max_retries=1, on_failure=lambda i, e, n: failures.append(n)
                )
            )
            await queue.join()
            queue.shut_down()
    assert failures == [1, 2]
    assert [r.levelno for r in caplog.records] == [logging.ERROR]  # the default drop log
    assert "dropping 'x' after 2 failed attempts" in caplog.records[0].getMessage()


async def test_a_hook_that_raises_is_logged_and_the_workers_go_on(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue()
    handled: list[str] = []

    async def handler(item: str) -> None:
        handled.append(item)
        if item == "bad":
            raise RuntimeError("bad")

    def broken_hook(item: str, error: Exception, attempt: int) -> None:
        raise KeyError("bug in the hook")

    queue.add("bad")
    with caplog.at_level(logging.ERROR, logger="vk_trio.queue"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: run_workers(
                    queue, handler, max_retries=0, on_failure=broken_hook, on_drop=broken_hook
                )
            )
            await queue.join()
            queue.add("good")
            await queue.join()
            queue.shut_down()
    assert handled == ["bad", "good"]
    assert sum("the hook" in r.getMessage() for r in caplog.records) == 2
