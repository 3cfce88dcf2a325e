from __future__ import annotations

from typing import Any

from vk_trio.informers import LabelSelector, Lister, Store

from .fakes import make_object


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def filled() -> Lister:
    store = Store()
    store.add(make_object("web-1", "shop", labels={"app": "web", "tier": "front"}))
    store.add(make_object("web-2", "shop", labels={"app": "web"}))
    store.add(make_object("db-1", "shop", labels={"app": "db"}))
    store.add(make_object("web-1", "blog", labels={"app": "web"}))
    store.add(make_object("node-a", None, labels={"role": "edge"}))
    return Lister(store)


def test_get_by_key() -> None:
    lister = filled()
    got = lister.get("shop/web-1")
    assert got is not None and got["metadata"]["labels"]["tier"] == "front"
    node = lister.get("node-a")
    assert node is not None and node["metadata"]["name"] == "node-a"
    assert lister.get("shop/nope") is None


def test_list_everything_by_namespace_and_by_selector() -> None:
    lister = filled()
    assert names(lister.list()) == ["db-1", "node-a", "web-1", "web-1", "web-2"]
    assert names(lister.list(namespace="shop")) == ["db-1", "web-1", "web-2"]
    assert names(lister.list(namespace="none")) == []
    assert names(lister.list(label_selector="app=web")) == ["web-1", "web-1", "web-2"]
    assert names(lister.list(namespace="shop", label_selector={"app": "web"})) == [
        "web-1",
        "web-2",
    ]
    assert names(lister.list(label_selector=LabelSelector.parse("app in (db),!tier"))) == ["db-1"]
    assert names(lister.list(label_selector="role")) == ["node-a"]


def test_namespace_lister() -> None:
    shop = filled().namespace("shop")
    assert shop.namespace == "shop"
    got = shop.get("db-1")
    assert got is not None and got["metadata"]["namespace"] == "shop"
    assert shop.get("node-a") is None
    assert names(shop.list()) == ["db-1", "web-1", "web-2"]
    assert names(shop.list(label_selector="tier=front")) == ["web-1"]


def test_by_custom_index() -> None:
    store = Store(indexers={"app": lambda o: [o["metadata"].get("labels", {}).get("app", "")]})
    lister = Lister(store)
    store.add(make_object("a", labels={"app": "web"}))
    store.add(make_object("b", labels={"app": "db"}))
    assert names(lister.by_index("app", "web")) == ["a"]
