"""The Node object builder and taint configuration."""

import datetime as dt

import pytest

from vk_trio import __version__
from vk_trio.node._node_object import (
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
    Taint,
    TaintError,
    build_node,
    default_conditions,
    mark_node_ready,
    taint_from_env,
)

NOW = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


def test_default_taint() -> None:
    assert taint_from_env("mock", {}) == Taint("virtual-kubelet.io/provider", "mock", "NoSchedule")
    assert taint_from_env("mock", {}, key="custom/key") == Taint("custom/key", "mock")
    assert taint_from_env("mock", {}, disabled=True) is None


def test_taint_env_overrides() -> None:
    env = {
        "VKUBELET_TAINT_KEY": "k",
        "VKUBELET_TAINT_VALUE": "v",
        "VKUBELET_TAINT_EFFECT": "NoExecute",
    }
    assert taint_from_env("mock", env) == Taint("k", "v", "NoExecute")
    assert taint_from_env("mock", {"VKUBELET_TAINT_EFFECT": "PreferNoSchedule"}) == Taint(
        "virtual-kubelet.io/provider", "mock", "PreferNoSchedule"
    )


def test_taint_errors() -> None:
    with pytest.raises(ValueError, match='taint effect "Bogus" is not supported'):
        taint_from_env("mock", {"VKUBELET_TAINT_EFFECT": "Bogus"})
    with pytest.raises(ValueError, match="taint key must not be empty"):
        taint_from_env("mock", {"VKUBELET_TAINT_KEY": ""})


@pytest.mark.parametrize(
    ("taint", "part", "message"),
    [
        (Taint("", "v"), "key", "the taint key must not be empty"),
        (Taint("bad key", "v"), "key", 'taint key "bad key" is not a valid qualified name'),
        (Taint("a/b/c", "v"), "key", 'taint key "a/b/c" is not a valid qualified name'),
        (Taint("Up.Case/x", "v"), "key", 'taint key "Up.Case/x" is not a valid qualified name'),
        (Taint("k", "not valid!"), "value", 'taint value "not valid!" is not a valid label value'),
        (Taint("k", "a" * 64), "value", f'taint value "{"a" * 64}" is not a valid label value'),
        (Taint("k", "v", "noschedule"), "effect", 'taint effect "noschedule" is not supported'),
    ],
)
def test_taint_validation_names_the_part(taint: Taint, part: str, message: str) -> None:
    with pytest.raises(TaintError) as info:
        taint.validate()
    assert info.value.part == part
    assert str(info.value).startswith(message)


def test_valid_taints_pass() -> None:
    for taint in (
        Taint("virtual-kubelet.io/provider", "mock"),
        Taint("k", "", "NoExecute"),
        Taint("example.com/a_b.c-d", "v1.2_3-x", "PreferNoSchedule"),
    ):
        taint.validate()


def test_load_balancer_exclusion_label_is_on_by_default_and_can_be_left_off() -> None:
    on = build_node("n", now=NOW)
    assert on["metadata"]["labels"][EXCLUDE_FROM_LOAD_BALANCERS_LABEL] == "true"
    off = build_node("n", now=NOW, load_balancer_exclusion=False)
    assert EXCLUDE_FROM_LOAD_BALANCERS_LABEL not in off["metadata"]["labels"]
    assert EXCLUDE_FROM_LOAD_BALANCERS_LABEL == (
        "node.kubernetes.io/exclude-from-external-load-balancers"
    )


def test_node_shape() -> None:
    node = build_node(
        "vk-1",
        now=NOW,
        taint=Taint("virtual-kubelet.io/provider", "mock"),
        labels={"extra": "1", "type": "override"},
        operating_system="linux",
        internal_ip="10.0.0.9",
        daemon_port=10250,
        capacity={"cpu": "20", "memory": "100Gi", "pods": "20"},
        provider_id="mock://vk-1",
    )
    assert node["metadata"] == {
        "name": "vk-1",
        "labels": {
            "type": "override",
            "kubernetes.io/role": "agent",
            "kubernetes.io/hostname": "vk-1",
            "node.kubernetes.io/exclude-from-external-load-balancers": "true",
            "extra": "1",
        },
    }
    assert node["spec"] == {
        "taints": [{"key": "virtual-kubelet.io/provider", "value": "mock", "effect": "NoSchedule"}],
        "providerID": "mock://vk-1",
    }
    status = node["status"]
    assert status["phase"] == "Pending"
    assert (
        status["capacity"]
        == status["allocatable"]
        == {"cpu": "20", "memory": "100Gi", "pods": "20"}
    )
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.9"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"] == {
        "operatingSystem": "linux",
        "architecture": "amd64",
        "kubeletVersion": f"v1.31.4-vk-{__version__}",
    }
    assert status["conditions"] == default_conditions(NOW)
    ready = status["conditions"][0]
    assert ready == {
        "type": "Ready",
        "status": "False",
        "lastHeartbeatTime": "2024-05-06T07:08:09Z",
        "lastTransitionTime": "2024-05-06T07:08:09Z",
        "reason": "KubeletPending",
        "message": "kubelet is pending.",
    }


def test_minimal_node_has_no_taint_or_addresses() -> None:
    node = build_node("n", now=NOW, allocatable={"pods": "5"}, conditions=[], kubelet_version="v9")
    assert node["spec"] == {}
    assert node["status"]["addresses"] == []
    assert node["status"]["allocatable"] == {"pods": "5"}
    assert node["status"]["capacity"] == {}
    assert node["status"]["conditions"] == []
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v9"


def test_mark_ready() -> None:
    node = build_node("n", now=NOW)
    later = NOW + dt.timedelta(seconds=5)
    ready = mark_node_ready(node, later)
    assert ready["status"]["phase"] == "Running"
    condition = ready["status"]["conditions"][0]
    assert condition["status"] == "True"
    assert condition["reason"] == "KubeletReady"
    assert condition["message"] == "Kubelet is ready"
    assert condition["lastTransitionTime"] == "2024-05-06T07:08:14Z"
    assert node["status"]["phase"] == "Pending"  # the input is untouched
    bare = mark_node_ready({"status": {"conditions": []}}, later)
    assert [c["type"] for c in bare["status"]["conditions"]] == ["Ready"]
