from __future__ import annotations

import pytest

from vk_trio.informers import (
    DeletedFinalStateUnknown,
    ObjectKeyError,
    identity,
    meta_namespace_key,
    namespace_index_func,
    split_meta_namespace_key,
    strip_managed_fields,
)


def test_meta_namespace_key_namespaced_and_cluster_scoped() -> None:
    assert meta_namespace_key({"metadata": {"name": "p", "namespace": "ns"}}) == "ns/p"
    assert meta_namespace_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert meta_namespace_key({"metadata": {"name": "n", "namespace": ""}}) == "n"


def test_meta_namespace_key_of_a_tombstone_is_its_key() -> None:
    tombstone = DeletedFinalStateUnknown("ns/p", {"metadata": {"name": "other"}})
    assert meta_namespace_key(tombstone) == "ns/p"


@pytest.mark.parametrize("obj", [{}, {"metadata": {}}, {"metadata": {"name": ""}}, {"metadata": 3}])
def test_meta_namespace_key_without_name_is_an_error(obj: dict[str, object]) -> None:
    with pytest.raises(ObjectKeyError):
        meta_namespace_key(obj)


def test_split_meta_namespace_key() -> None:
    assert split_meta_namespace_key("ns/p") == ("ns", "p")
    assert split_meta_namespace_key("node-1") == ("", "node-1")
    for bad in ("", "a/b/c", "ns/"):
        with pytest.raises(ObjectKeyError, match="unexpected key format"):
            split_meta_namespace_key(bad)


def test_namespace_index_func() -> None:
    assert namespace_index_func({"metadata": {"name": "p", "namespace": "ns"}}) == ["ns"]
    assert namespace_index_func({"metadata": {"name": "n"}}) == [""]


def test_strip_managed_fields_drops_only_managed_fields_in_place() -> None:
    obj = {"metadata": {"name": "p", "managedFields": [{"manager": "kubectl"}], "uid": "u"}}
    out = strip_managed_fields(obj)
    assert out is obj
    assert obj == {"metadata": {"name": "p", "uid": "u"}}
    assert strip_managed_fields({"kind": "X"}) == {"kind": "X"}  # no metadata: untouched


def test_identity_keeps_everything() -> None:
    obj = {"metadata": {"name": "p", "managedFields": []}}
    assert identity(obj) is obj and "managedFields" in obj["metadata"]
