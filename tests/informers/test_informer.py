"""SharedInformer against the in-memory fake, on trio's MockClock.

Our own versions of client-go's shared-informer tests (``tools/cache/shared_informer_test.go`` and
its neighbours): resync periods, watch disruption, handlers added or removed while running,
multiple registrations, stopped informers, lifecycles, indexers, and the controller's
allowed-transitions hammer test; plus tombstones, failing handlers, transforms and cache-sync
waiting.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.informers import (
    DeletedFinalStateUnknown,
    ReflectorOptions,
    SharedInformer,
    wait_for_cache_sync,
)
from vk_trio.kube import ApiConnectionError, InternalError

from .fakes import FakeApiServer, make_object

PATH = "/api/v1/pods"
Obj = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    server = FakeApiServer()
    for i in range(3):
        server.create(make_object(f"p{i}"))
    yield server


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


def informer_for(fake: FakeApiServer, **kwargs: Any) -> SharedInformer:
    return SharedInformer(fake, PATH, rng=random.Random(5), **kwargs)


class Recorder:
    """Records every notification as (kind, name[, name]) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.deleted: list[Obj | DeletedFinalStateUnknown] = []

    def add(self, obj: Obj) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def update(self, old: Obj, new: Obj) -> None:
        self.events.append(("update", old["metadata"]["name"], new["metadata"]["name"]))

    def delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.deleted.append(obj)
        if isinstance(obj, DeletedFinalStateUnknown):
            self.events.append(("tombstone", obj.key))
        else:
            self.events.append(("delete", obj["metadata"]["name"]))

    def register(self, informer: SharedInformer, resync: float | None = None) -> Any:
        return informer.add_event_handler(
            on_add=self.add, on_update=self.update, on_delete=self.delete, resync_period=resync
        )

    def take(self) -> list[tuple[str, ...]]:
        events, self.events = self.events, []
        return events


def expire(fake: FakeApiServer) -> None:
    fake.bump_unrelated()
    fake.compact()
    fake.end_watches()


async def test_handlers_see_the_initial_list_then_every_change(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    informer = informer_for(fake)
    rec = Recorder()
    reg = rec.register(informer)
    assert not informer.has_synced and not reg.has_synced
    async with informer:
        assert await informer.wait_for_cache_sync()
        assert informer.has_synced and reg.has_synced
        assert sorted(rec.take()) == [("add", "p0"), ("add", "p1"), ("add", "p2")]
        fake.create(make_object("p3"))
        fake.modify("default/p0", lambda o: o["spec"].update(x=1))
        fake.delete("default/p1")
        await settle()
        assert rec.take() == [("add", "p3"), ("update", "p0", "p0"), ("delete", "p1")]
        assert sorted(informer.store.list_keys()) == ["default/p0", "default/p2", "default/p3"]
        stats = informer.statistics()
        assert (stats.objects, stats.adds, stats.updates, stats.deletes) == (3, 4, 1, 1)
        assert informer.last_sync_resource_version == str(fake.rv)
    assert informer.is_stopped and fake.open_watches == 0


async def test_handler_sees_the_cache_already_updated(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    informer = informer_for(fake)
    seen: list[bool] = []
    informer.add_event_handler(
        on_add=lambda o: seen.append(informer.store.get(o) is o),
        on_delete=lambda o: seen.append(informer.store.get(o) is None),  # type: ignore[arg-type]
    )
    async with informer:
        await informer.wait_for_cache_sync()
        fake.create(make_object("p9"))
        fake.delete("default/p9")
        await settle()
    assert seen == [True] * 5


async def test_missed_deletes_arrive_as_tombstones_with_the_last_known_object(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    informer = informer_for(fake)
    rec = Recorder()
    rec.register(informer)
    async with informer:
        await informer.wait_for_cache_sync()
        fake.modify("default/p1", lambda o: o["spec"].update(last="state"))
        await trio.sleep(10)
        rec.take()
        # The connection drops; while it is down p1 is deleted and p3 created, and the history
        # is compacted, so the resumed watch gets 410 and the informer relists.
        fake.watch_errors.extend([ApiConnectionError("connection refused")] * 2)
        fake.break_watches(ApiConnectionError("connection reset"))
        await settle()
        fake.delete("default/p1")
        fake.create(make_object("p3"))
        fake.bump_unrelated()
        fake.compact()
        await trio.sleep(30)
        events = rec.take()
        assert events == [("tombstone", "default/p1"), ("add", "p3")]
        tombstone = rec.deleted[-1]
        assert isinstance(tombstone, DeletedFinalStateUnknown)
        assert tombstone.obj["spec"] == {"last": "state"}
        assert informer.statistics().tombstones == 1
        assert sorted(informer.store.list_keys()) == ["default/p0", "default/p2", "default/p3"]


async def test_watch_disruption_delivers_changes_and_syncs_only_to_resyncing_handlers(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestSharedInformerWatchDisruption.
    informer = informer_for(fake, resync_period=10.0)
    resyncing, plain = Recorder(), Recorder()
    resyncing.register(informer)  # informer default: 10 s
    plain.register(informer, resync=0.0)
    async with informer:
        await informer.wait_for_cache_sync()
        await trio.sleep(10.5)  # the first resync check: `resyncing` is due (and stays marked)
        assert sorted(resyncing.take()) == [("add", f"p{i}") for i in range(3)] + [
            ("update", f"p{i}", f"p{i}") for i in range(3)
        ]
        assert plain.take() == [("add", "p0"), ("add", "p1"), ("add", "p2")]
        fake.watch_errors.append(ApiConnectionError("connection refused"))
        fake.break_watches(ApiConnectionError("connection reset"))
        await settle()
        fake.modify("default/p1", lambda o: o["spec"].update(v=2))
        fake.create(make_object("p3"))
        expire(fake)
        await trio.sleep(6)  # two backoffs (< 1.6 s, < 3.2 s), relist; before the next resync
        assert plain.take() == [("update", "p1", "p1"), ("add", "p3")]
        assert resyncing.take() == [
            ("update", "p0", "p0"),  # unchanged: a sync, only for the handler being resynced
            ("update", "p1", "p1"),
            ("update", "p2", "p2"),
            ("add", "p3"),
        ]


async def test_listener_resync_periods(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestListenerResyncPeriods: informer 1 s; handlers 0, 2 s, 3 s.
    informer = informer_for(fake, resync_period=1.0)
    never, every2, every3 = Recorder(), Recorder(), Recorder()
    never.register(informer, resync=0.0)
    every2.register(informer, resync=2.0)
    every3.register(informer, resync=3.0)
    async with informer:
        await informer.wait_for_cache_sync()
        for rec in (never, every2, every3):
            assert len(rec.take()) == 3  # the initial adds
        await trio.sleep(1.5)  # t = 1: nobody due
        assert (never.take(), every2.take(), every3.take()) == ([], [], [])
        await trio.sleep(1.0)  # t = 2: only the 2 s handler
        assert (len(never.take()), len(every2.take()), len(every3.take())) == (0, 3, 0)
        await trio.sleep(1.0)  # t = 3: only the 3 s handler
        assert (len(never.take()), len(every2.take()), len(every3.take())) == (0, 0, 3)
        await trio.sleep(1.0)  # t = 4: the 2 s handler again
        assert (len(never.take()), len(every2.take()), len(every3.take())) == (0, 3, 0)
        assert informer.statistics().resyncs == 3


async def test_resync_check_period_negotiation(fake: FakeApiServer) -> None:
    # Our version of TestResyncCheckPeriod.
    informer = informer_for(fake, resync_period=12 * 3600.0)
    assert informer.resync_check_period == 12 * 3600.0
    r0 = Recorder().register(informer, resync=0.0)
    assert (informer.resync_check_period, r0.resync_period) == (12 * 3600.0, 0.0)
    r1 = Recorder().register(informer, resync=60.0)
    assert informer.resync_check_period == 60.0
    r2 = Recorder().register(informer, resync=55.0)
    assert informer.resync_check_period == 55.0
    r3 = Recorder().register(informer, resync=5.0)
    assert informer.resync_check_period == 5.0
    assert [r.resync_period for r in (r0, r1, r2, r3)] == [0.0, 60.0, 55.0, 5.0]
    tiny = Recorder().register(informer, resync=0.1)
    assert tiny.resync_period == 1.0  # the minimum
    assert informer.resync_check_period == 1.0
    with pytest.raises(ValueError):
        informer.add_event_handler(resync_period=-1)


async def test_resync_period_below_check_period_after_start_is_raised(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    informer = informer_for(fake, resync_period=30.0)
    async with informer:
        await informer.wait_for_cache_sync()
        late = Recorder().register(informer, resync=5.0)
        assert late.resync_period == 30.0 and informer.resync_check_period == 30.0


async def test_handler_added_while_running_gets_the_cache_as_adds(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestAddWhileActive.
    informer = informer_for(fake)
    first = Recorder()
    first.register(informer)
    async with informer:
        await informer.wait_for_cache_sync()
        fake.create(make_object("p3"))
        await settle()
        late = Recorder()
        reg = late.register(informer)
        assert reg.has_synced
        assert await reg.wait_for_cache_sync()
        assert sorted(late.take()) == [("add", f"p{i}") for i in range(4)]
        first.take()
        fake.delete("default/p0")
        await settle()
        assert first.take() == late.take() == [("delete", "p0")]


async def test_handler_added_before_sync_is_not_synced_until_the_informer_is(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer()
    fake.list_errors.append(InternalError("not yet", status_code=500))
    informer = informer_for(fake)
    async with informer:
        reg = Recorder().register(informer)
        assert not reg.has_synced
        assert await wait_for_cache_sync(informer, reg)
        assert reg.has_synced


async def test_removed_handler_hears_nothing_more(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestRemoveWhileActive / TestShutDownEventHandler_Lifecycles.
    informer = informer_for(fake)
    keep, drop = Recorder(), Recorder()
    keep.register(informer)
    reg = drop.register(informer)
    async with informer:
        await informer.wait_for_cache_sync()
        keep.take()
        drop.take()
        reg.remove()
        assert reg.removed and not reg.has_synced
        reg.remove()  # idempotent
        fake.create(make_object("p3"))
        await settle()
        assert keep.take() == [("add", "p3")]
        assert drop.take() == []
        assert informer.statistics().handlers == 1
    other = informer_for(fake)
    with pytest.raises(ValueError):
        other.remove_event_handler(reg)


async def test_handler_removed_from_inside_a_handler(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    informer = informer_for(fake)
    calls: list[str] = []
    regs: list[Any] = []

    def once(obj: Obj) -> None:
        calls.append(obj["metadata"]["name"])
        regs[0].remove()

    regs.append(informer.add_event_handler(on_add=once))
    after = Recorder()
    after.register(informer)
    async with informer:
        await informer.wait_for_cache_sync()
    assert len(calls) == 1
    assert len(after.take()) == 3


async def test_the_same_handler_registered_twice_is_called_twice(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestSharedInformerMultipleRegistration.
    informer = informer_for(fake)
    rec = Recorder()
    reg1 = rec.register(informer)
    reg2 = rec.register(informer)
    assert reg1 is not reg2
    async with informer:
        await informer.wait_for_cache_sync()
        assert len(rec.take()) == 6
        reg1.remove()
        fake.create(make_object("p3"))
        await settle()
        assert rec.take() == [("add", "p3")]
        assert reg2.has_synced


async def test_stopped_informer_refuses_handlers_and_restarts(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestAddOnStoppedSharedInformer and TestStateSharedInformer.
    informer = informer_for(fake)
    assert not informer.has_started and not informer.is_stopped
    async with informer:
        assert informer.has_started and not informer.is_stopped
        with pytest.raises(RuntimeError, match="already started"):
            await informer.run()
    assert informer.is_stopped
    with pytest.raises(RuntimeError, match="stopped"):
        Recorder().register(informer)
    with pytest.raises(RuntimeError):
        async with informer:
            pass
    with pytest.raises(RuntimeError):
        informer.add_indexers({"x": lambda o: []})


async def test_wait_for_cache_sync_is_false_when_stopped_before_syncing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer()
    fake.list_errors.extend([InternalError("down", status_code=500)] * 100)
    informer = informer_for(fake)
    results: list[bool] = []

    async def waiter() -> None:
        results.append(await informer.wait_for_cache_sync())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        with trio.move_on_after(60):
            await informer.run()
    assert results == [False]
    assert not await wait_for_cache_sync(informer)


async def test_failing_handler_is_logged_and_does_not_stop_the_informer(
    fake: FakeApiServer,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    informer = informer_for(fake)

    def explode(obj: Obj) -> None:
        raise RuntimeError(f"cannot handle {obj['metadata']['name']}")

    bad = informer.add_event_handler(on_add=explode)
    good = Recorder()
    good.register(informer)
    with caplog.at_level(logging.ERROR, logger="vk_trio.informers"):
        async with informer:
            await informer.wait_for_cache_sync()
            fake.create(make_object("p3"))
            await settle()
    assert len(good.take()) == 4
    assert bad.errors == 4 and bad.calls == 4
    assert informer.statistics().handler_errors == 4
    assert "cannot handle p3" in caplog.text


async def test_transform_strips_managed_fields_before_handlers_and_cache(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer()
    heavy = make_object("p0")
    heavy["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    fake.create(heavy)
    informer = informer_for(fake)
    seen: list[Obj | DeletedFinalStateUnknown] = []
    informer.add_event_handler(
        on_add=seen.append, on_update=lambda o, n: seen.append(n), on_delete=seen.append
    )
    async with informer:
        await informer.wait_for_cache_sync()
        fake.modify("default/p0", lambda o: o["spec"].update(x=1))
        fake.delete("default/p0")
        await settle()
    assert len(seen) == 3
    for obj in seen:
        assert isinstance(obj, dict) and "managedFields" not in obj["metadata"]

    kept = informer_for(fake, transform=None)
    fake.create(heavy)
    async with kept:
        await kept.wait_for_cache_sync()
        cached = kept.store.get_by_key("default/p0")
        assert cached is not None and "managedFields" in cached["metadata"]


async def test_indexers_and_listers(
    fake: FakeApiServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Our version of TestIndexer: lookups, and indexers added while running.
    def by_app(obj: Any) -> list[str]:
        return [(obj["metadata"].get("labels") or {}).get("app", "")]

    fake.create(make_object("w1", "shop", labels={"app": "web"}))
    fake.create(make_object("w2", "shop", labels={"app": "web"}))
    informer = informer_for(fake, indexers={"app": by_app})
    async with informer:
        await informer.wait_for_cache_sync()
        assert informer.indexer.index_keys("app", "web") == ["shop/w1", "shop/w2"]
        informer.add_indexers({"name": lambda o: [o["metadata"]["name"]]})
        assert informer.indexer.index_keys("name", "p1") == ["default/p1"]
        lister = informer.lister()
        assert [o["metadata"]["name"] for o in lister.list(namespace="shop")] == ["w1", "w2"]
        fake.delete("shop/w1")
        await settle()
        assert lister.namespace("shop").get("w1") is None
        assert informer.indexer.index_keys("app", "web") == ["shop/w2"]


async def test_only_allowed_transitions_under_churn_and_disruption(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Our version of the controller's TestUpdate hammer: objects go from "from" to "to" and are
    # deleted; handlers may only ever see from->to, to->to or from->from, however the watch is
    # broken, resumed or relisted in between, and in the end the cache equals the server.
    fake = FakeApiServer()
    informer = informer_for(fake, options=ReflectorOptions(min_watch_timeout=20.0))
    bad: list[tuple[str, str]] = []
    allowed = {("from", "to"), ("to", "to"), ("from", "from")}

    def state(obj: Obj) -> str:
        return str(obj["metadata"]["labels"]["state"])

    def on_update(old: Obj, new: Obj) -> None:
        if (state(old), state(new)) not in allowed:
            bad.append((state(old), state(new)))

    informer.add_event_handler(on_update=on_update)
    rng = random.Random(11)
    async with informer:
        for step in range(600):
            action = rng.random()
            keys = sorted(fake.objects)
            if action < 0.35 or not keys:
                fake.create(make_object(f"o{step}", labels={"state": "from"}))
            elif action < 0.7:
                fake.modify(rng.choice(keys), lambda o: o["metadata"]["labels"].update(state="to"))
            elif action < 0.85:
                fake.delete(rng.choice(keys))
            elif action < 0.9:
                fake.break_watches(ApiConnectionError("reset"))
            elif action < 0.93:
                expire(fake)
            elif action < 0.95 and not fake.watch_errors:
                fake.watch_errors.append(ApiConnectionError("refused"))
                fake.break_watches(ApiConnectionError("reset"))
            await trio.sleep(rng.random())
        await trio.sleep(300)
        assert informer.has_synced
        cached = {k: v["metadata"]["resourceVersion"] for k, v in informer.store.items().items()}
        expected = {k: v["metadata"]["resourceVersion"] for k, v in fake.objects.items()}
        assert cached == expected, (
            sorted(set(cached.items()) ^ set(expected.items())),
            informer.statistics(),
            fake.rv,
        )
        stats = informer.statistics().reflector
        assert stats.lists > 1 and stats.watch_restarts > 1
    assert bad == []
