"""Informers against the real API server (etcd + kube-apiserver from scripts/controlplane).

Black-box scenarios: a paged list+watch of 2,000 objects converges; a control-plane restart
mid-watch converges with no missed or phantom objects; deletions that happened while the
informer was cut off arrive as tombstones; etcd compaction makes the resumed watch answer 410
and the informer relists; bookmarks advance the resource version; a stalled connection (a TCP
proxy that stops forwarding) is detected and the watch restarted; the controller example of
docs/informers.md works on a real cluster.

Waiting here is for a real server, so these tests poll with real (bounded) time; the timing rules
themselves are tested on MockClock in test_reflector.py / test_informer.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio.informers import (
    DeletedFinalStateUnknown,
    ReflectorOptions,
    SharedInformer,
    meta_namespace_key,
)
from vk_trio.kube import ApiError, KubeClient, KubeConfig, resource_path

from .proxy import TcpProxy
from .test_docs import load_example

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def private_controlplane(
    controlplane_factory: Callable[..., ControlPlane],
) -> Iterator[ControlPlane]:
    """A control plane of our own: restart and compact must not disturb other tests."""
    yield controlplane_factory("informers-faults")


@pytest.fixture(scope="module")
def watch_cache_controlplane(
    controlplane_factory: Callable[..., ControlPlane],
) -> Iterator[ControlPlane]:
    """The bench profile runs the API server with its watch cache, which sends bookmarks (the
    default profile serves watches from etcd directly, which sends none)."""
    yield controlplane_factory("informers-watchcache", profile="bench")


async def client_for(cp: ControlPlane, *, via: TcpProxy | None = None) -> KubeClient:
    server = cp.server if via is None else f"https://127.0.0.1:{via.port}"
    # The admin identity: client certificate in the TLS context, harness CA trusted.
    return KubeClient(KubeConfig.for_server(server, ssl_context=cp.ssl_context()))


async def start_proxy(nursery: trio.Nursery, cp: ControlPlane) -> TcpProxy:
    target = urlsplit(cp.server)
    assert target.hostname is not None and target.port is not None
    proxy = TcpProxy(target.hostname, target.port)
    await nursery.start(proxy.run)
    return proxy


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` (state of a real server and of the informer) until it holds."""
    with trio.fail_after(timeout):
        while True:
            if condition():
                return
            await trio.sleep(0.05)


def configmaps(namespace: str) -> str:
    return resource_path("v1", "configmaps", namespace=namespace)


def configmap(namespace: str, name: str, **data: str) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


async def create_many(client: KubeClient, namespace: str, names: list[str]) -> None:
    send, receive = trio.open_memory_channel[str](len(names))
    for name in names:
        send.send_nowait(name)
    send.close()

    async def worker() -> None:
        async for name in receive:
            await client.create(configmaps(namespace), configmap(namespace, name, n=name))

    async with trio.open_nursery() as nursery:
        for _ in range(16):
            nursery.start_soon(worker)


async def server_state(client: KubeClient, path: str) -> dict[str, str]:
    items, _ = await client.list_all(path)
    return {meta_namespace_key(o): o["metadata"]["resourceVersion"] for o in items}


def cache_state(informer: SharedInformer) -> dict[str, str]:
    return {k: o["metadata"]["resourceVersion"] for k, o in informer.store.items().items()}


class Mirror:
    """Rebuilds the server's state from handler notifications alone (key -> resourceVersion)."""

    def __init__(self, informer: SharedInformer) -> None:
        self.state: dict[str, str] = {}
        self.tombstones: list[DeletedFinalStateUnknown] = []
        self.deletes: list[str] = []
        self.bad: list[str] = []
        informer.add_event_handler(on_add=self.add, on_update=self.update, on_delete=self.delete)

    def add(self, obj: Obj) -> None:
        key = meta_namespace_key(obj)
        if key in self.state:
            self.bad.append(f"add of known {key}")
        self.state[key] = obj["metadata"]["resourceVersion"]

    def update(self, old: Obj, new: Obj) -> None:
        key = meta_namespace_key(new)
        if self.state.get(key) != old["metadata"]["resourceVersion"]:
            self.bad.append(f"update of {key} from an unknown state")
        self.state[key] = new["metadata"]["resourceVersion"]

    def delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = meta_namespace_key(obj)
        if isinstance(obj, DeletedFinalStateUnknown):
            self.tombstones.append(obj)
        self.deletes.append(key)
        if self.state.pop(key, None) is None:
            self.bad.append(f"delete of unknown {key}")


async def converge(client: KubeClient, informer: SharedInformer, mirror: Mirror) -> dict[str, str]:
    """Wait until cache and handler mirror both equal a fresh list from the server."""
    truth = await server_state(client, informer.path)
    await wait_until(
        lambda: cache_state(informer) == truth and mirror.state == truth, "convergence"
    )
    assert mirror.bad == []
    return truth


@pytest.fixture
async def proxy_nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


async def test_paged_list_and_watch_of_2000_objects_converges(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with await client_for(controlplane) as client:
        await create_many(client, namespace, [f"cm-{i:04}" for i in range(2000)])
        informer = SharedInformer(client, configmaps(namespace))
        mirror = Mirror(informer)
        async with informer:
            assert await informer.wait_for_cache_sync()
            truth = await converge(client, informer, mirror)
            assert len(truth) >= 2000
            stats = informer.statistics().reflector
            # The first LIST asks for pages of 500 (etcd serves RV=0 lists paged when the watch
            # cache is off), so the list came in several pages.
            assert stats.list_pages == math.ceil(len(truth) / 500)
            rng = random.Random(4)
            names = sorted(truth)
            for key in rng.sample(names, 50):
                _, name = key.split("/")
                await client.patch(configmaps(namespace) + f"/{name}", {"data": {"x": "1"}})
            for key in rng.sample(names, 25):
                _, name = key.split("/")
                try:
                    await client.delete(configmaps(namespace) + f"/{name}")
                except ApiError as exc:
                    assert exc.status_code == 404
            await create_many(client, namespace, [f"new-{i}" for i in range(25)])
            await converge(client, informer, mirror)
            assert informer.statistics().reflector.lists == 1
            assert mirror.tombstones == []


async def test_restart_mid_watch_converges_without_missed_or_phantom_objects(
    private_controlplane: ControlPlane, make_namespace: Callable[[ControlPlane], str]
) -> None:
    cp = private_controlplane
    ns = make_namespace(cp)
    async with await client_for(cp) as client:
        await create_many(client, ns, [f"cm-{i:03}" for i in range(100)])
        informer = SharedInformer(client, configmaps(ns))
        mirror = Mirror(informer)
        async with informer:
            assert await informer.wait_for_cache_sync()
            churning = True
            written = 0

            async def churn() -> None:
                nonlocal written
                rng = random.Random(9)
                i = 0
                while churning:
                    i += 1
                    try:
                        action = rng.random()
                        if action < 0.4:
                            await client.create(configmaps(ns), configmap(ns, f"churn-{i}"))
                        elif action < 0.8:
                            name = f"cm-{rng.randrange(100):03}"
                            await client.patch(configmaps(ns) + f"/{name}", {"data": {"i": str(i)}})
                        else:
                            await client.delete(configmaps(ns) + f"/cm-{rng.randrange(100):03}")
                        written += 1
                    except ApiError:
                        pass  # not found, or the server is down right now
                    await trio.sleep(0.01)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(churn)
                await trio.sleep(1)
                await trio.to_thread.run_sync(lambda: cp.restart(down_for=2.0))
                await trio.sleep(2)
                churning = False
            await converge(client, informer, mirror)
            stats = informer.statistics().reflector
            assert stats.watch_restarts >= 1 and written > 0
            assert stats.last_error is not None  # it did notice the outage


async def test_deletes_missed_while_cut_off_arrive_as_tombstones_after_restart(
    private_controlplane: ControlPlane,
    make_namespace: Callable[[ControlPlane], str],
    proxy_nursery: trio.Nursery,
) -> None:
    cp = private_controlplane
    ns = make_namespace(cp)
    proxy = await start_proxy(proxy_nursery, cp)
    async with await client_for(cp) as admin, await client_for(cp, via=proxy) as client:
        await create_many(admin, ns, [f"cm-{i}" for i in range(10)])
        informer = SharedInformer(client, configmaps(ns))
        mirror = Mirror(informer)
        async with informer:
            assert await informer.wait_for_cache_sync()
            await admin.patch(configmaps(ns) + "/cm-0", {"data": {"last": "words"}})
            await wait_until(
                lambda: "last" in (informer.lister().get(f"{ns}/cm-0") or {}).get("data", {}),
                "the patch",
            )
            # Cut the informer off; while it is away, delete and create objects, restart the
            # control plane and compact etcd, so the events in between are gone for good.
            proxy.partition()
            for i in range(4):
                await admin.delete(configmaps(ns) + f"/cm-{i}")
            await create_many(admin, ns, ["late-1", "late-2"])
            await trio.to_thread.run_sync(lambda: cp.restart(down_for=1.0))
            await trio.to_thread.run_sync(cp.compact)
            proxy.heal()
            truth = await converge(admin, informer, mirror)
            assert sorted(truth) == sorted(
                [f"{ns}/cm-{i}" for i in range(4, 10)] + [f"{ns}/late-1", f"{ns}/late-2"]
            )
            assert sorted(t.key for t in mirror.tombstones) == [f"{ns}/cm-{i}" for i in range(4)]
            last = {t.key: t.obj for t in mirror.tombstones}[f"{ns}/cm-0"]
            assert last["data"] == {"n": "cm-0", "last": "words"}  # the last state we knew
            stats = informer.statistics()
            assert stats.tombstones == 4
            assert stats.reflector.gone >= 1 and stats.reflector.lists == 2


async def test_compaction_makes_the_resumed_watch_410_and_the_informer_relists(
    private_controlplane: ControlPlane,
    make_namespace: Callable[[ControlPlane], str],
    proxy_nursery: trio.Nursery,
) -> None:
    cp = private_controlplane
    ns = make_namespace(cp)
    proxy = await start_proxy(proxy_nursery, cp)
    async with await client_for(cp) as admin, await client_for(cp, via=proxy) as client:
        await create_many(admin, ns, ["a", "b"])
        informer = SharedInformer(client, configmaps(ns))
        mirror = Mirror(informer)
        async with informer:
            assert await informer.wait_for_cache_sync()
            proxy.partition()
            await admin.patch(configmaps(ns) + "/a", {"data": {"v": "2"}})
            await trio.to_thread.run_sync(cp.compact)
            proxy.heal()
            await converge(admin, informer, mirror)
            stats = informer.statistics()
            assert (stats.reflector.gone, stats.reflector.lists) == (1, 2)
            assert stats.tombstones == 0
            a = informer.lister().get(f"{ns}/a")
            assert a is not None and a["data"]["v"] == "2"


async def test_bookmarks_advance_the_resource_version(
    watch_cache_controlplane: ControlPlane, make_namespace: Callable[[ControlPlane], str]
) -> None:
    cp = watch_cache_controlplane
    mine, other = make_namespace(cp), make_namespace(cp)
    async with await client_for(cp) as client:
        await client.create(configmaps(mine), configmap(mine, "mine"))
        # Short watches: the API server's watch cache sends a bookmark 2 s before a watch times
        # out (seen on 1.37 only for watchers that have been sent an event already).
        informer = SharedInformer(
            client, configmaps(mine), options=ReflectorOptions(min_watch_timeout=10.0)
        )
        async with informer:
            assert await informer.wait_for_cache_sync()
            await wait_until(lambda: informer.statistics().reflector.watches == 1, "the watch")
            patched = await client.patch(configmaps(mine) + "/mine", {"data": {"v": "1"}})
            # Changes elsewhere advance the global resource version but send us no event.
            created = await client.create(configmaps(other), configmap(other, "elsewhere"))
            elsewhere = int(created["metadata"]["resourceVersion"])
            assert elsewhere > int(patched["metadata"]["resourceVersion"])
            try:
                await wait_until(
                    lambda: (
                        informer.statistics().reflector.bookmarks > 0
                        and int(informer.last_sync_resource_version) >= elsewhere
                    ),
                    "a bookmark",
                    timeout=WAIT,
                )
            except trio.TooSlowError:
                raise AssertionError((informer.statistics(), elsewhere)) from None
            stats = informer.statistics().reflector
            assert stats.events == stats.bookmarks + 1  # our patch, then only bookmarks
            assert informer.store.resource_version == informer.last_sync_resource_version
            assert stats.lists == 1


async def test_stalled_watch_is_detected_and_restarted(
    controlplane: ControlPlane, namespace: str, proxy_nursery: trio.Nursery
) -> None:
    proxy = await start_proxy(proxy_nursery, controlplane)
    async with (
        await client_for(controlplane) as admin,
        await client_for(controlplane, via=proxy) as client,
    ):
        await admin.create(configmaps(namespace), configmap(namespace, "before"))
        informer = SharedInformer(
            client,
            configmaps(namespace),
            options=ReflectorOptions(min_watch_timeout=3.0, stall_grace=2.0),
        )
        async with informer:
            assert await informer.wait_for_cache_sync()
            await wait_until(lambda: informer.statistics().reflector.watches == 1, "the watch")
            proxy.stall()  # the open watch connection goes silent (and stays open)
            await admin.create(configmaps(namespace), configmap(namespace, "after"))
            await wait_until(
                lambda: f"{namespace}/after" in informer.store, "the restarted watch", timeout=60
            )
            stats = informer.statistics().reflector
            assert stats.stalled_watches >= 1, stats
            assert stats.lists == 1  # resumed from the last version, no relist


async def test_the_documented_controller_on_a_real_cluster(
    controlplane: ControlPlane, namespace: str
) -> None:
    example = load_example()
    expected = {"one": "2", "two": "1"}
    annotated = {name: trio.Event() for name in expected}

    def check(obj: Obj) -> None:
        name = obj["metadata"]["name"]
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get("example.com/data-keys") == expected.get(name):
            annotated[name].set()

    async with await client_for(controlplane) as client:
        await client.create(configmaps(namespace), configmap(namespace, "one", a="1", b="2"))
        # An informer of our own watches the controller's work.
        observer = SharedInformer(client, configmaps(namespace))
        observer.add_event_handler(on_add=check, on_update=lambda old, new: check(new))
        async with observer, trio.open_nursery() as nursery:
            nursery.start_soon(example.run_controller, client, namespace)
            with trio.fail_after(60):
                await annotated["one"].wait()
                await client.create(configmaps(namespace), configmap(namespace, "two", a="1"))
                await annotated["two"].wait()
            nursery.cancel_scope.cancel()
