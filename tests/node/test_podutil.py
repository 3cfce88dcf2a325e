"""Pod equality, the should-enqueue predicate and "running"."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vk_trio.node._podutil import (
    is_running,
    normalized,
    pod_key,
    pod_should_enqueue,
    pods_effectively_equal,
    pods_equal,
    semantically_equal,
)


def base_pod() -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": "p",
            "resourceVersion": "1",
            "labels": {"app": "x"},
            "annotations": {"a": "b"},
        },
        "spec": {
            "nodeName": "vk",
            "containers": [{"name": "c", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
        "status": {"phase": "Running"},
    }


def test_normalized_drops_empties_recursively() -> None:
    assert normalized(
        {"a": None, "b": "", "c": {}, "d": [], "e": {"f": []}, "g": 0, "h": False}
    ) == {
        "g": 0,
        "h": False,
    }
    assert normalized([{}, {"a": ""}, 1]) == [None, None, 1]  # lists keep their length
    assert semantically_equal({"x": {}}, {})
    assert not semantically_equal({"x": 0}, {})


def test_pod_key() -> None:
    assert pod_key(base_pod()) == "ns/p"
    assert pod_key({"metadata": {"name": "cluster-scoped"}}) == "cluster-scoped"


def test_pods_equal_ignores_status_and_irrelevant_fields() -> None:
    a, b = base_pod(), base_pod()
    b["status"] = {"phase": "Failed"}
    b["metadata"]["resourceVersion"] = "99"
    b["spec"]["nodeName"] = "elsewhere"
    assert pods_equal(a, b)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["spec"]["containers"][0].__setitem__("image", "nginx:2"),
        lambda p: p["metadata"]["labels"].__setitem__("new", "1"),
        lambda p: p["metadata"]["annotations"].pop("a"),
        lambda p: p["spec"].__setitem__("activeDeadlineSeconds", 30),
        lambda p: p["spec"]["tolerations"].append({"key": "z"}),
        lambda p: p["spec"].__setitem__("initContainers", [{"name": "i"}]),
        lambda p: p["spec"].__setitem__("ephemeralContainers", [{"name": "e"}]),
    ],
)
def test_pods_different(change: Any) -> None:
    a, b = base_pod(), base_pod()
    change(b)
    assert not pods_equal(a, b)
    assert pod_should_enqueue(a, b)


def test_absent_and_empty_are_equal() -> None:
    a, b = base_pod(), base_pod()
    del b["metadata"]["annotations"]
    a["metadata"]["annotations"] = {}
    b["spec"]["containers"][0]["ports"] = []
    b["spec"]["containers"][0]["env"][0]["valueFrom"] = None
    assert pods_equal(a, b)


def test_env_order_matters_unless_sorted() -> None:
    a, b = base_pod(), base_pod()
    a["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": ""}]
    b["spec"]["containers"][0]["env"] = [{"name": "B"}, {"name": "A", "value": "1"}]
    assert not pods_equal(a, b)
    assert pods_equal(a, b, sort_env=True)


def test_should_not_enqueue_status_only_changes() -> None:
    a, b = base_pod(), base_pod()
    b["status"] = {"phase": "Succeeded", "podIP": "1.2.3.4"}
    b["metadata"]["resourceVersion"] = "2"
    assert not pod_should_enqueue(a, b)


def test_should_enqueue_deletion_changes() -> None:
    a = base_pod()
    b = copy.deepcopy(a)
    b["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert pod_should_enqueue(a, b)
    c = copy.deepcopy(b)
    c["metadata"]["deletionGracePeriodSeconds"] = 30
    assert pod_should_enqueue(b, c)
    d = copy.deepcopy(c)
    d["metadata"]["deletionGracePeriodSeconds"] = 0
    assert pod_should_enqueue(c, d)
    assert not pod_should_enqueue(d, copy.deepcopy(d))


def test_effectively_equal() -> None:
    a, b = base_pod(), base_pod()
    b["metadata"]["resourceVersion"] = "2"
    b["status"] = {"phase": "Failed"}
    assert pods_effectively_equal(a, b)
    b["metadata"]["labels"] = {"app": "y"}
    assert not pods_effectively_equal(a, b)
    c = base_pod()
    c["spec"]["nodeName"] = "other"
    assert not pods_effectively_equal(a, c)


@pytest.mark.parametrize(
    ("statuses", "running"),
    [
        (None, False),
        ([], False),
        ([{"state": {"running": {}}}], True),
        ([{"state": {}}], True),
        ([{}], True),
        ([{"state": {"waiting": {}}}], False),
        ([{"state": {"terminated": {"exitCode": 0}}}], False),
        ([{"state": {"terminated": {"exitCode": 0}}}, {"state": {"running": {}}}], True),
    ],
)
def test_is_running(statuses: Any, running: bool) -> None:
    status = None if statuses is None else {"containerStatuses": statuses}
    assert is_running(status) is running
    assert is_running({"initContainerStatuses": [{"state": {"running": {}}}]}) is False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "a", "b"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["x", "y", "z"]), children, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
def test_semantic_equality_is_equality_of_normalised_values(left: Any, right: Any) -> None:
    # as fields of an object: an empty value and an absent one are the same
    expected = normalized({"v": left}) == normalized({"v": right})
    assert semantically_equal(left, right) == expected
    assert semantically_equal(left, left)
