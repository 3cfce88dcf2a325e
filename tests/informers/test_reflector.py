"""Reflector behaviour against the in-memory fake, on trio's MockClock.

Our own versions of client-go's reflector tests (``tools/cache/reflector_test.go``): expired and
too-large resource versions, full list when a continue token expires, paging rules, watch timeouts,
429 and internal-error handling, connection backoff, resource-version propagation; plus bookmarks,
stalled and broken streams, and very short watches.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.informers import Reflector, ReflectorOptions, Store
from vk_trio.kube import ApiConnectionError, Gone, InternalError, ServerTimeout, TooManyRequests

from .fakes import FakeApiServer, make_object

PATH = "/api/v1/pods"


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    server = FakeApiServer()
    for i in range(3):
        server.create(make_object(f"p{i}"))
    yield server


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def start(
    nursery: trio.Nursery,
    fake: FakeApiServer,
    sink: Any = None,
    **options: Any,
) -> tuple[Reflector, Store]:
    store = sink if sink is not None else Store()
    reflector = Reflector(
        fake, PATH, store, options=ReflectorOptions(**options), rng=random.Random(3)
    )
    await nursery.start(reflector.run)
    await settle()
    return reflector, store


def expire(fake: FakeApiServer) -> None:
    """Make the reflector's position too old and end its watch: the resumed watch gets 410."""
    fake.bump_unrelated()
    fake.compact()
    fake.end_watches()


def rvs(calls: list[Any]) -> list[str | None]:
    return [c.resource_version for c in calls]


async def test_list_then_watch_keeps_the_store_current(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        assert sorted(store.list_keys()) == ["default/p0", "default/p1", "default/p2"]
        listed_at = str(fake.rv)
        assert rvs(fake.list_calls()) == ["0"]
        assert rvs(fake.watch_calls()) == [listed_at]
        assert reflector.last_sync_resource_version == listed_at
        # list items come without kind/apiVersion: the reflector fills them in
        p0 = store.get_by_key("default/p0")
        assert p0 is not None and (p0["kind"], p0["apiVersion"]) == ("Pod", "v1")

        fake.create(make_object("p3"))
        fake.modify("default/p0", lambda o: o["spec"].update(x=1))
        fake.delete("default/p1")
        await settle()
        assert sorted(store.list_keys()) == ["default/p0", "default/p2", "default/p3"]
        p0 = store.get_by_key("default/p0")
        assert p0 is not None and p0["spec"] == {"x": 1}
        assert reflector.last_sync_resource_version == str(fake.rv)
        stats = reflector.statistics()
        assert (stats.lists, stats.watches, stats.events) == (1, 1, 3)
        nursery.cancel_scope.cancel()
    assert fake.open_watches == 0  # cancellation closed the watch


async def test_resource_version_follows_every_event(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestReflectorResourceVersionUpdate.
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        seen = []
        for i in range(4):
            fake.create(make_object(f"n{i}"))
            await settle()
            seen.append(reflector.last_sync_resource_version)
        assert seen == [str(fake.rv - 3), str(fake.rv - 2), str(fake.rv - 1), str(fake.rv)]
        nursery.cancel_scope.cancel()


async def test_bookmarks_advance_the_resource_version_without_events(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        fake.bump_unrelated(5)
        fake.bookmark()
        await settle()
        assert reflector.last_sync_resource_version == str(fake.rv)
        assert store.resource_version == str(fake.rv)
        stats = reflector.statistics()
        assert (stats.bookmarks, stats.lists, len(store)) == (1, 1, 3)
        # the next watch resumes from the bookmark's version
        fake.end_watches()
        await settle()
        assert rvs(fake.watch_calls())[-1] == str(fake.rv)
        nursery.cancel_scope.cancel()


async def test_watch_timeouts_are_randomised_and_resume_without_relist(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        await trio.sleep(6 * 600)  # at least six server-side timeouts
        calls = fake.watch_calls()
        assert len(calls) >= 6
        timeouts = [c.timeout_seconds for c in calls]
        assert all(t is not None and 300 <= t < 600 for t in timeouts)
        assert len(set(timeouts)) > 1
        # read timeout is longer than the server's own timeout (stall detection)
        assert all(
            c.read_timeout is not None
            and c.timeout_seconds is not None
            and c.read_timeout > c.timeout_seconds
            for c in calls
        )
        # consecutive watches follow each other at the timeout: no backoff, no relist
        for before, after in itertools.pairwise(calls):
            assert before.timeout_seconds is not None
            assert after.at - before.at == pytest.approx(before.timeout_seconds)
        assert len(fake.list_calls()) == 1
        assert reflector.statistics().watch_restarts == len(calls) - 1
        nursery.cancel_scope.cancel()


async def test_expired_watch_relists_at_the_last_version_then_from_scratch(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestReflectorExpiredExactResourceVersion: list RVs "0", last, "".
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        await trio.sleep(10)
        last = reflector.last_sync_resource_version
        fake.watch_errors.append(ApiConnectionError("connection refused"))  # server down
        fake.break_watches(ApiConnectionError("connection reset"))
        await settle()  # the reflector is now backing off
        fake.delete("default/p2")  # missed: the history is compacted before the watch resumes
        fake.compact()
        fake.list_errors.append(Gone("too old", status_code=410, reason="Expired"))
        await trio.sleep(10)
        assert rvs(fake.list_calls()) == ["0", last, None]
        assert sorted(store.list_keys()) == ["default/p0", "default/p1"]
        stats = reflector.statistics()
        assert (stats.gone, stats.expired_lists, stats.lists) == (1, 1, 2)
        nursery.cancel_scope.cancel()


async def test_relist_pages_and_falls_back_to_a_full_list_when_the_continue_token_expires(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Our version of TestReflectorFullListIfExpired.
    fake = FakeApiServer(watch_cache=False)
    for i in range(10):
        fake.create(make_object(f"p{i:02}"))
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake, page_size=4)
        first = fake.list_calls()
        assert [(c.resource_version, c.limit, c.continue_ is not None) for c in first] == [
            ("0", 4, False),
            (None, 4, True),
            (None, 4, True),
        ]
        assert len(store) == 10
        last = reflector.last_sync_resource_version
        await trio.sleep(10)
        # etcd compacts while the relist pages: the continue token expires after page one
        fake.list_errors.extend([None, Gone("continue expired", status_code=410, reason="Expired")])
        expire(fake)
        await trio.sleep(5)
        relist = fake.list_calls()[3:]
        assert [(c.resource_version, c.limit, c.continue_ is not None) for c in relist] == [
            (last, 4, False),
            (None, 4, True),  # -> 410: the token expired
            (last, None, False),  # one full list at the same version
        ]
        assert len(store) == 10
        nursery.cancel_scope.cancel()


async def test_too_large_resource_version_relists_from_scratch(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestReflectorFullListIfTooLarge (both spellings of the error).
    too_large_cause = ServerTimeout(
        "Too large resource version",
        status_code=504,
        reason="Timeout",
        status={"details": {"causes": [{"reason": "ResourceVersionTooLarge"}]}},
    )
    too_large_legacy = ServerTimeout(
        "Too large resource version: 20, current: 10", status_code=504, reason="Timeout"
    )
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        for error in (too_large_cause, too_large_legacy):
            last = reflector.last_sync_resource_version
            fake.list_errors.append(error)
            await trio.sleep(10)
            expire(fake)
            await trio.sleep(5)
            assert rvs(fake.list_calls())[-2:] == [last, None]
        assert reflector.statistics().expired_lists == 2
        nursery.cancel_scope.cancel()


async def test_relist_at_a_known_version_is_not_paginated(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestReflectorNotPaginatingNotConsistentReads.
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        last = reflector.last_sync_resource_version
        await trio.sleep(10)
        expire(fake)
        await trio.sleep(5)
        calls = fake.list_calls()
        assert [(c.resource_version, c.limit) for c in calls] == [("0", 500), (last, None)]
        nursery.cancel_scope.cancel()


async def test_paginated_rv0_list_means_no_watch_cache_so_keep_paginating(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Our version of TestReflectorPaginatingNonConsistentReadsIfWatchCacheDisabled.
    fake = FakeApiServer(watch_cache=False)
    for i in range(600):
        fake.create(make_object(f"p{i:03}"))
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        assert len(store) == 600
        assert [c.limit for c in fake.list_calls()] == [500, 500]
        await trio.sleep(10)
        last = reflector.last_sync_resource_version
        expire(fake)
        await trio.sleep(5)
        relist = fake.list_calls()[2:]
        assert relist[0].resource_version == last
        assert [c.limit for c in relist] == [500, 500]
        nursery.cancel_scope.cancel()


async def test_429_backs_off_and_rewatches_without_relisting(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestBackoffOnTooManyRequests and TestNoRelistOnTooManyRequests: a 429 on
    # opening the watch and a 429 Status event each cost one backoff, never a relist.
    fake.watch_errors.append(TooManyRequests("slow down", retry_after=None))
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        await trio.sleep(2)
        fake.send_error_event(
            {
                "kind": "Status",
                "code": 429,
                "reason": "TooManyRequests",
                "message": "slow down",
                "details": {"retryAfterSeconds": 7},
            }
        )
        await trio.sleep(10)
        stats = reflector.statistics()
        assert (stats.too_many_requests, stats.retries, stats.lists) == (2, 2, 1)
        calls = fake.watch_calls()
        assert len(calls) == 3
        assert 0.8 <= calls[1].at - calls[0].at < 1.6
        assert calls[2].at - 2 == pytest.approx(7)  # Retry-After beats a shorter backoff
        assert rvs(calls) == [reflector.last_sync_resource_version] * 3
        nursery.cancel_scope.cancel()


async def test_internal_error_relists_unless_retries_are_enabled(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestRetryInternalError.
    status = {"kind": "Status", "code": 500, "reason": "InternalError", "message": "etcd hiccup"}
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        fake.send_error_event(status)
        await trio.sleep(5)
        assert reflector.statistics().lists == 2  # retries disabled by default: relist
        nursery.cancel_scope.cancel()

    fake.calls.clear()
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake, max_internal_error_retry_duration=10.0)
        for _ in range(6):  # t = 0, 2, ..., 10: inside the window, re-watch at once
            fake.send_error_event(status)
            await trio.sleep(2)
        assert reflector.statistics().lists == 1
        assert len(fake.watch_calls()) == 7
        fake.send_error_event(status)  # t = 12: window exceeded -> relist
        await trio.sleep(5)
        assert reflector.statistics().lists == 2
        nursery.cancel_scope.cancel()


async def test_unreachable_server_backs_off_exponentially_without_relisting(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestReflectorListAndWatchInitConnBackoff.
    for _ in range(5):
        fake.watch_errors.append(ApiConnectionError("connection refused"))
    async with trio.open_nursery() as nursery:
        _, store = await start(nursery, fake)
        await trio.sleep(100)
        calls = fake.watch_calls()
        assert len(calls) == 6
        gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
        for gap, base in zip(gaps, [0.8, 1.6, 3.2, 6.4, 12.8], strict=True):
            assert base <= gap < 2 * base
        assert len(fake.list_calls()) == 1
        assert fake.open_watches == 1 and len(store) == 3
        nursery.cancel_scope.cancel()


async def test_list_failures_back_off_and_retry(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    fake.list_errors.extend([InternalError("boom", status_code=500)] * 3)
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        await trio.sleep(60)
        calls = fake.list_calls()
        assert len(calls) == 4 and len(store) == 3
        gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
        for gap, base in zip(gaps, [0.8, 1.6, 3.2], strict=True):
            assert base <= gap < 2 * base
        assert rvs(calls) == ["0"] * 4
        assert reflector.statistics().last_error is not None
        nursery.cancel_scope.cancel()


async def test_broken_stream_resumes_from_the_last_version(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        await trio.sleep(10)
        fake.create(make_object("p3"))
        await settle()
        fake.break_watches(ApiConnectionError("connection reset"))
        fake.create(make_object("p4"))  # happens "while" the stream is broken
        await settle()
        assert rvs(fake.watch_calls())[-1] == str(fake.rv - 1)
        assert len(fake.list_calls()) == 1
        assert "default/p4" in store  # replayed from history by the resumed watch
        assert reflector.statistics().watch_restarts == 1
        nursery.cancel_scope.cancel()


async def test_stalled_watch_is_detected_and_restarted(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake, min_watch_timeout=60.0, stall_grace=10.0)
        first = fake.watch_calls()[0]
        fake.stall_watches()
        fake.create(make_object("p3"))  # stuck in the stalled stream
        await trio.sleep(200)
        assert first.timeout_seconds is not None
        second = fake.watch_calls()[1]
        assert second.at - first.at == pytest.approx(first.timeout_seconds + 10.0)
        assert second.resource_version == first.resource_version
        assert "default/p3" in store  # the new watch delivered it
        stats = reflector.statistics()
        assert (stats.stalled_watches, stats.lists) == (1, 1)
        nursery.cancel_scope.cancel()


async def test_one_very_short_empty_watch_is_retried_from_the_same_version(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # An overloaded server ends a watcher it finds too slow, often right after it opened: the
    # version is still good, so re-watch from it after backoff rather than list everything.
    fake.end_next_watches = 1
    async with trio.open_nursery() as nursery:
        reflector, store = await start(nursery, fake)
        await trio.sleep(5)
        assert len(fake.list_calls()) == 1
        first, second = fake.watch_calls()[:2]
        assert second.resource_version == first.resource_version
        assert 0.8 <= second.at - first.at < 1.6
        assert "VeryShortWatchError" in (reflector.statistics().last_error or "")
        fake.create(make_object("p-new"))
        await trio.sleep(1)
        assert "default/p-new" in store
        nursery.cancel_scope.cancel()


async def test_two_very_short_empty_watches_in_a_row_relist_after_backoff(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of client-go's VeryShortWatchError handling (which relists on the first).
    fake.end_next_watches = 2
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        await trio.sleep(10)
        lists = fake.list_calls()
        assert len(lists) == 2
        watches = fake.watch_calls()
        assert watches[1].resource_version == watches[0].resource_version
        assert lists[1].at > watches[1].at
        assert "VeryShortWatchError" in (reflector.statistics().last_error or "")
        nursery.cancel_scope.cancel()


async def test_watch_from_unset_version_ignores_versions_of_initial_adds(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    fake.list_resource_version = ""
    async with trio.open_nursery() as nursery:
        reflector, _ = await start(nursery, fake)
        assert rvs(fake.watch_calls()) == [None]
        fake.create(make_object("p3"))
        await settle()
        assert reflector.last_sync_resource_version == ""  # ADDED: not trusted yet
        fake.modify("default/p3", lambda o: o["spec"].update(y=2))
        await settle()
        assert reflector.last_sync_resource_version == str(fake.rv)
        fake.create(make_object("p4"))
        await settle()
        assert reflector.last_sync_resource_version == str(fake.rv)  # from now on, every event
        nursery.cancel_scope.cancel()
