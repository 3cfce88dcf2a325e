from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.informers import InformerFactory, InformerKey

from .fakes import FakeApiServer, make_object


def filled() -> FakeApiServer:
    fake = FakeApiServer()
    fake.create(make_object("a1", "ns-a", labels={"app": "web"}, spec={"nodeName": "n1"}))
    fake.create(make_object("a2", "ns-a", labels={"app": "db"}, spec={"nodeName": "n2"}))
    fake.create(make_object("b1", "ns-b", labels={"app": "web"}, spec={"nodeName": "n1"}))
    return fake


def app_of(obj: Any) -> list[str]:
    return [obj["metadata"]["labels"]["app"]]


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


async def test_one_informer_and_one_watch_per_resource_and_selector(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = filled()
    factory = InformerFactory(fake, rng=random.Random(1))
    pods = factory.informer("v1", "pods")
    assert factory.informer("v1", "pods") is pods
    on_node = factory.informer("v1", "pods", field_selector="spec.nodeName=n1")
    assert on_node is not pods
    assert factory.informer("v1", "pods", field_selector="spec.nodeName=n1") is on_node
    async with factory:
        assert await factory.wait_for_cache_sync()
        assert fake.open_watches == 2
        assert len(fake.list_calls()) == 2
        assert names(pods.lister().list()) == ["a1", "a2", "b1"]
        assert names(on_node.lister().list()) == ["a1", "b1"]
        # The field selector is applied by the server on LIST and WATCH alike: a pod that moves
        # off the node leaves the filtered cache (the server sends DELETED).
        fake.modify("ns-a/a1", lambda o: o["spec"].update(nodeName="n2"))
        await trio.testing.wait_all_tasks_blocked()
        assert names(on_node.lister().list()) == ["b1"]
        assert names(pods.lister().list()) == ["a1", "a2", "b1"]
        assert set(factory.statistics()) == {
            InformerKey("/api/v1/pods", None, None),
            InformerKey("/api/v1/pods", None, "spec.nodeName=n1"),
        }
    assert fake.open_watches == 0
    assert pods.is_stopped and on_node.is_stopped


async def test_namespace_scoping_and_default_selectors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = filled()
    factory = InformerFactory(fake, namespace="ns-a", label_selector="app=web")
    scoped = factory.informer("v1", "pods")
    assert scoped.path == "/api/v1/namespaces/ns-a/pods"
    other_ns = factory.informer("v1", "pods", namespace="ns-b")
    everywhere = factory.informer("v1", "pods", all_namespaces=True, label_selector="app")
    async with trio.open_nursery() as nursery:
        await nursery.start(factory.run)
        assert await factory.wait_for_cache_sync()
        assert names(scoped.lister().list()) == ["a1"]
        assert names(other_ns.lister().list()) == ["b1"]
        assert names(everywhere.lister().list()) == ["a1", "a2", "b1"]
        selectors = {(c.label_selector, c.field_selector) for c in fake.list_calls()}
        assert selectors == {("app=web", None), ("app", None)}
        nursery.cancel_scope.cancel()


async def test_informers_requested_while_running_start_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = filled()
    async with InformerFactory(fake) as factory:
        assert factory.informers == {}
        late = factory.informer("v1", "pods", namespace="ns-b")
        assert await late.wait_for_cache_sync()
        assert names(late.lister().list()) == ["b1"]
        # asking again with indexers adds them to the running informer
        again = factory.informer(
            "v1",
            "pods",
            namespace="ns-b",
            indexers={"app": lambda o: [o["metadata"]["labels"]["app"]]},
        )
        assert again is late
        assert late.store.index_keys("app", "web") == ["ns-b/b1"]
        assert await factory.wait_for_cache_sync()
    with pytest.raises(RuntimeError, match="shut down"):
        factory.informer("v1", "configmaps")
    with pytest.raises(RuntimeError):
        async with factory:
            pass


async def test_resync_period_defaults_from_the_factory(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = filled()
    factory = InformerFactory(fake, resync_period=30.0)
    assert factory.informer("v1", "pods").resync_check_period == 30.0
    assert (
        factory.informer("v1", "pods", namespace="x", resync_period=5.0).resync_check_period == 5.0
    )
    group = factory.informer("coordination.k8s.io/v1", "leases", namespace="kube-node-lease")
    assert group.path == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
