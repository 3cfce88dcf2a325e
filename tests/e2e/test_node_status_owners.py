"""Pod status has other writers: the node's writes keep their conditions and fields (issue 13.3).

A pod with a readiness gate that another client (a load balancer controller, here the test) sets;
a ``DisruptionTarget`` condition written by another. Against the real API server, with the
node running the mock provider. (``nominatedNodeName`` cannot be set on a bound pod, so the
unit tests cover fields outside the node's domain.)
"""

from typing import Any

from tests._controlplane import ControlPlane
from vk_trio.kube import PatchType

from ._node_support import JSON, RunningNode, api, eventually, running_node

GATE = "example.com/lb-ready"


def _conditions(pod: JSON | None) -> dict[str, JSON]:
    return {c["type"]: c for c in ((pod or {}).get("status") or {}).get("conditions") or []}


async def _patch_status(other: RunningNode, namespace: str, name: str, status: JSON) -> None:
    await other.client.patch(
        other.pod_path(namespace, name) + "/status",
        {"status": status},
        patch_type=PatchType.STRATEGIC,
    )


async def _pod_when(vk: RunningNode, namespace: str, name: str, test: Any) -> JSON:
    async def check() -> JSON | None:
        pod = await vk.pod(namespace, name)
        return pod if pod is not None and test(pod) else None

    pod: JSON = await eventually(check, timeout=120)
    return pod


async def test_readiness_gate_and_others_conditions_survive_the_nodes_writes(
    controlplane: ControlPlane, namespace: str
) -> None:
    async with running_node(controlplane, "gates") as vk, api(controlplane) as other:
        await vk.create_pod(namespace, "web", readinessGates=[{"conditionType": GATE}])

        # Running, containers ready, but not Ready: the gate has no condition yet
        pod = await _pod_when(
            vk,
            namespace,
            "web",
            lambda p: p["status"].get("phase") == "Running" and "Ready" in _conditions(p),
        )
        ready = _conditions(pod)["Ready"]
        assert ready["status"] == "False"
        assert ready["reason"] == "ReadinessGatesNotReady"
        assert GATE in ready["message"]

        # another client writes a DisruptionTarget condition
        disruption = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "TestDisruption",
            "message": "set by another client",
        }
        await _patch_status(
            other,
            namespace,
            "web",
            {"conditions": [disruption]},
        )
        # the gate's owner says yes: Ready follows, written by the node
        await _patch_status(
            other, namespace, "web", {"conditions": [{"type": GATE, "status": "True"}]}
        )
        pod = await _pod_when(
            vk, namespace, "web", lambda p: _conditions(p)["Ready"]["status"] == "True"
        )
        conditions = _conditions(pod)
        assert conditions[GATE]["status"] == "True"
        assert conditions["DisruptionTarget"]["reason"] == "TestDisruption"
        assert conditions["PodScheduled"]["status"] == "True"
        assert conditions["Initialized"]["status"] == "True"

        # ... and no: Ready goes back, the other conditions still there
        await _patch_status(
            other, namespace, "web", {"conditions": [{"type": GATE, "status": "False"}]}
        )
        pod = await _pod_when(
            vk, namespace, "web", lambda p: _conditions(p)["Ready"]["status"] == "False"
        )
        conditions = _conditions(pod)
        assert conditions["Ready"]["reason"] == "ReadinessGatesNotReady"
        assert conditions[GATE]["status"] == "False"
        assert conditions["DisruptionTarget"]["reason"] == "TestDisruption"
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"] == "5.6.7.8"
