from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from vk_trio.informers import NAMESPACE_INDEX, DeletedFinalStateUnknown, Store, StoreIndexError

from .fakes import make_object


def obj(name: str, ns: str = "default", rv: str = "", **labels: str) -> dict[str, Any]:
    o = make_object(name, ns, labels=labels)
    if rv:
        o["metadata"]["resourceVersion"] = rv
    return o


def by_label(label: str) -> Any:
    def index(o: Mapping[str, Any]) -> list[str]:
        value = (o["metadata"].get("labels") or {}).get(label)
        return [] if value is None else value.split(",")

    return index


def test_add_update_delete_get_list() -> None:
    store = Store()
    a, b = obj("a"), obj("b", "other")
    assert store.add(a) is a
    store.add(b)
    assert len(store) == 2 and "default/a" in store and "other/b" in store
    assert store.get_by_key("default/a") is a
    assert store.get(obj("a")) is a
    assert sorted(store.list_keys()) == ["default/a", "other/b"]
    a2 = obj("a", rv="7")
    store.update(a2)
    assert store.get_by_key("default/a") is a2 and len(store) == 2
    assert store.delete(obj("a")) is a2
    assert store.delete(obj("a")) is None  # absent: no error
    assert store.list() == [b]
    assert store.get_by_key("default/a") is None


def test_delete_accepts_a_tombstone() -> None:
    store = Store()
    store.add(obj("a"))
    assert store.delete(DeletedFinalStateUnknown("default/a", obj("a"))) is not None
    assert len(store) == 0


def test_replace_swaps_the_content_and_rebuilds_indices() -> None:
    store = Store()
    store.add(obj("a"))
    store.add(obj("b", "ns1"))
    before = store.items()
    stored = store.replace([obj("c", "ns2"), obj("d", "ns2")], "42")
    assert [o["metadata"]["name"] for o in stored] == ["c", "d"]
    assert sorted(store.list_keys()) == ["ns2/c", "ns2/d"]
    assert store.resource_version == "42"
    assert store.list_index_func_values(NAMESPACE_INDEX) == ["ns2"]
    # A view taken before the replace still shows the old content.
    assert sorted(before) == ["default/a", "ns1/b"]


def test_transform_runs_on_add_and_replace_and_defaults_to_stripping_managed_fields() -> None:
    store = Store()
    o = obj("a")
    o["metadata"]["managedFields"] = [{"manager": "m"}]
    assert "managedFields" not in store.add(o)["metadata"]
    o2 = obj("b")
    o2["metadata"]["managedFields"] = [{"manager": "m"}]
    (stored,) = store.replace([o2], "1")
    assert "managedFields" not in stored["metadata"]


def test_custom_transform_and_no_transform() -> None:
    seen: list[str] = []

    def transform(o: dict[str, Any]) -> dict[str, Any]:
        seen.append(o["metadata"]["name"])
        return {"metadata": o["metadata"], "kept": True}

    store = Store(transform=transform)
    assert store.add(obj("a")) == {"metadata": obj("a")["metadata"], "kept": True}
    store.replace([obj("b")], "2")
    assert seen == ["a", "b"]
    raw = obj("c")
    raw["metadata"]["managedFields"] = []
    assert "managedFields" in Store(transform=None).add(raw)["metadata"]


def test_namespace_index_is_built_in() -> None:
    store = Store()
    store.add(obj("a", "ns1"))
    store.add(obj("b", "ns1"))
    store.add(obj("c", "ns2"))
    assert store.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/a", "ns1/b"]
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "ns2")] == ["c"]
    assert store.index_keys(NAMESPACE_INDEX, "nope") == []


def test_index_with_multiple_values_follows_value_changes() -> None:
    # Our version of TestThreadSafeStoreIndexingFunctionsWithMultipleValues.
    store = Store(indexers={"by_user": by_label("users")})
    store.add(obj("a", users="fred"))
    assert store.index_keys("by_user", "fred") == ["default/a"]
    store.update(obj("a", users="fred,bob"))
    assert store.index_keys("by_user", "fred") == ["default/a"]
    assert store.index_keys("by_user", "bob") == ["default/a"]
    store.update(obj("a", users="bob"))
    assert store.index_keys("by_user", "fred") == []
    assert store.index_keys("by_user", "bob") == ["default/a"]
    store.update(obj("a", users="elmo"))
    assert store.list_index_func_values("by_user") == ["elmo"]


def test_deleting_removes_empty_sets_from_the_index() -> None:
    # Our version of TestThreadSafeStoreDeleteRemovesEmptySetsFromIndex.
    store = Store(indexers={"by_user": by_label("users")})
    store.add(obj("a", users="fred"))
    store.add(obj("b", users="fred"))
    store.delete(obj("a"))
    assert store.list_index_func_values("by_user") == ["fred"]  # b still there
    store.delete(obj("b"))
    assert store.list_index_func_values("by_user") == []
    assert store.statistics().index_values == {NAMESPACE_INDEX: 0, "by_user": 0}


def test_index_and_multi_index_keys() -> None:
    # Our version of TestIndex / TestMultiIndexKeys.
    store = Store(indexers={"by_user": by_label("users")})
    store.add(obj("one", users="ernie,bert"))
    store.add(obj("two", users="bert,oscar"))
    store.add(obj("tre", users="ernie,elmo"))
    assert store.index_keys("by_user", "ernie") == ["default/one", "default/tre"]
    assert store.index_keys("by_user", "bert") == ["default/one", "default/two"]
    assert store.index_keys("by_user", "elmo") == ["default/tre"]
    assert store.index_keys("by_user", "oscar") == ["default/two"]
    # index(): everything sharing any value with the probe object
    probe = obj("probe", users="oscar,elmo")
    assert [o["metadata"]["name"] for o in store.index("by_user", probe)] == ["tre", "two"]
    store.delete(obj("tre"))
    assert store.index_keys("by_user", "elmo") == []
    assert store.index_keys("by_user", "ernie") == ["default/one"]


def test_unknown_index_and_indexer_conflict() -> None:
    store = Store()
    with pytest.raises(StoreIndexError, match="does not exist"):
        store.index_keys("nope", "x")
    with pytest.raises(StoreIndexError, match="conflict"):
        store.add_indexers({NAMESPACE_INDEX: by_label("x")})


def test_add_indexers_indexes_existing_objects() -> None:
    store = Store()
    store.add(obj("a", users="u1"))
    store.add_indexers({"by_user": by_label("users")})
    assert store.index_keys("by_user", "u1") == ["default/a"]
    store.add(obj("b", users="u1"))
    assert store.index_keys("by_user", "u1") == ["default/a", "default/b"]


def test_failing_index_function_leaves_the_store_untouched() -> None:
    def fussy(o: Mapping[str, Any]) -> list[str]:
        if o["metadata"]["name"] == "bad":
            raise RuntimeError("boom")
        return [o["metadata"]["name"]]

    store = Store(indexers={"fussy": fussy})
    store.add(obj("good", "ns1"))
    with pytest.raises(StoreIndexError, match="boom"):
        store.add(obj("bad", "ns1"))
    assert store.list_keys() == ["ns1/good"]
    assert store.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/good"]


def test_resource_version_follows_writes_and_bookmarks() -> None:
    # Our version of TestThreadSafeStoreRV.
    store = Store()
    assert store.resource_version == ""
    store.replace([obj("a", rv="10")], "11")
    assert store.resource_version == "11"
    store.add(obj("b", rv="12"))
    assert store.resource_version == "12"
    store.bookmark("15")
    assert store.resource_version == "15"
    stats = store.statistics()
    assert (stats.objects, stats.resource_version) == (2, "15")
