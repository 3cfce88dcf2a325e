"""Home pod -> remote pod, remote status -> home status, capacity: the pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from vk_trio.provider import InvalidInputError
from vk_trio_cluster import ClusterConfig, remote_pod_for
from vk_trio_cluster._capacity import capacity_from
from vk_trio_cluster._status import home_status
from vk_trio_cluster._translate import references, token_sources

CONFIG = ClusterConfig(
    kubeconfig="/dev/null",
    node_selector={"pool": "offload"},
    tolerations=({"key": "dedicated", "operator": "Exists"},),
)


def home_pod() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "team",
            "uid": "u-1",
            "resourceVersion": "42",
            "labels": {"app": "web"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "uid": "rs"}],
            "managedFields": [{}],
        },
        "spec": {
            "nodeName": "vk-1",
            "schedulerName": "default-scheduler",
            "nodeSelector": {"type": "virtual-kubelet"},
            "affinity": {"nodeAffinity": {}},
            "serviceAccountName": "builder",
            "priorityClassName": "high",
            "priority": 1000,
            "tolerations": [
                {"key": "virtual-kubelet.io/provider", "operator": "Exists"},
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                },
            ],
            "imagePullSecrets": [{"name": "registry"}],
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "env": [
                        {"name": "A", "value": "1"},
                        {
                            "name": "B",
                            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}},
                        },
                    ],
                    "envFrom": [{"secretRef": {"name": "env-secret"}}],
                }
            ],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "files"}},
                {"name": "sec", "secret": {"secretName": "certs"}},
                {
                    "name": "kube-api-access-abcde",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {"fieldPath": "metadata.namespace"},
                                        }
                                    ]
                                }
                            },
                        ]
                    },
                },
            ],
        },
        "status": {"phase": "Pending"},
    }


def test_references_cover_env_env_from_volumes_and_pull_secrets() -> None:
    refs = references(home_pod())
    assert refs.config_maps == {"settings", "files"}
    assert refs.secrets == {"env-secret", "certs", "registry"}
    assert token_sources(home_pod())[0].expiration_seconds == 3607


def test_remote_pod_keeps_name_drops_home_fields_and_uses_the_config() -> None:
    remote = remote_pod_for(home_pod(), node="vk-1", namespace="remote-team", config=CONFIG)
    meta, spec = remote["metadata"], remote["spec"]
    assert meta["name"] == "web-1"
    assert meta["namespace"] == "remote-team"
    assert not {"uid", "resourceVersion", "ownerReferences", "managedFields"} & set(meta)
    assert meta["labels"]["app"] == "web"
    assert meta["labels"]["vk-trio.io/node"] == "vk-1"
    assert meta["labels"]["vk-trio.io/origin-uid"] == "u-1"
    assert meta["annotations"]["vk-trio.io/origin-name"] == "web-1"
    assert meta["annotations"]["vk-trio.io/origin-namespace"] == "team"
    assert "status" not in remote
    for gone in ("nodeName", "schedulerName", "affinity", "priorityClassName", "priority"):
        assert gone not in spec
    assert spec["nodeSelector"] == {"pool": "offload"}
    assert {"key": "dedicated", "operator": "Exists"} in spec["tolerations"]
    assert all(t["key"] != "virtual-kubelet.io/provider" for t in spec["tolerations"])
    assert spec["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in spec
    env = spec["containers"][0]["env"][1]["valueFrom"]["configMapKeyRef"]
    assert env["name"] == "settings.vk-1"
    assert spec["containers"][0]["envFrom"][0]["secretRef"]["name"] == "env-secret.vk-1"
    assert spec["imagePullSecrets"] == [{"name": "registry.vk-1"}]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["cfg"]["configMap"]["name"] == "files.vk-1"
    assert volumes["sec"]["secret"]["secretName"] == "certs.vk-1"
    sources = volumes["kube-api-access-abcde"]["projected"]["sources"]
    assert [s["secret"]["name"] for s in sources] == ["vk-trio-token.u-1"] * 3
    assert [s["secret"]["items"][0]["key"] for s in sources] == ["token-0", "ca.crt", "namespace"]


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces_are_refused(field: str) -> None:
    pod = home_pod()
    pod["spec"][field] = True
    with pytest.raises(InvalidInputError, match=field):
        remote_pod_for(pod, node="vk-1", namespace="team", config=CONFIG)


def test_home_status_takes_the_remote_one_with_the_virtual_nodes_host_ip() -> None:
    remote: dict[str, Any] = {
        "status": {
            "phase": "Running",
            "hostIP": "10.9.9.9",
            "podIP": "10.1.2.3",
            "podIPs": [{"ip": "10.1.2.3"}],
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "restartCount": 1, "ready": True}],
        }
    }
    status = home_status(remote, host_ip="192.0.2.1", restarts=2)
    assert status["hostIP"] == "192.0.2.1"
    assert status["hostIPs"] == [{"ip": "192.0.2.1"}]
    assert status["podIP"] == "10.1.2.3"
    assert status["containerStatuses"][0]["restartCount"] == 3
    assert remote["status"]["containerStatuses"][0]["restartCount"] == 1  # not modified


def node(name: str, *, ready: bool = True, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_capacity_sums_eligible_nodes_minus_other_pods() -> None:
    nodes = [
        node("a", pool="offload"),
        node("b", pool="offload"),
        node("c", pool="other"),
        node("d", ready=False, pool="offload"),
        node("vk", type="virtual-kubelet", pool="offload"),
    ]
    pods = [
        {
            "metadata": {"labels": {}},
            "spec": {
                "nodeName": "a",
                "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}],
            },
            "status": {"phase": "Running"},
        },
        {
            "metadata": {"labels": {"vk-trio.io/node": "vk-1"}},
            "spec": {"nodeName": "a", "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
            "status": {"phase": "Running"},
        },
    ]
    capacity, allocatable = capacity_from(
        nodes, pods, selector={"pool": "offload"}, node_name="vk-1"
    )
    assert capacity == {"cpu": "8", "memory": str(16 * 2**30), "pods": "220"}
    assert allocatable == {"cpu": "7500m", "memory": str(15 * 2**30), "pods": "219"}
