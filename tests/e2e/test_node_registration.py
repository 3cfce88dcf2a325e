"""The node controller against the real API server: shape, annotations, lease, heartbeats."""

import datetime as dt

import orjson
import trio

from tests._controlplane import ControlPlane
from vk_trio.node import LAST_APPLIED_META_ANNOTATION, LAST_APPLIED_STATUS_ANNOTATION, Taint
from vk_trio.provider import NodeCallback, Pod, PodCallback
from vk_trio.provider.types import PodStatus
from vk_trio_mock import MockConfig, MockProvider

from ._node_support import JSON, eventually, node_name, running_node


async def test_node_shape(controlplane: ControlPlane) -> None:
    config = MockConfig(cpu="2", memory="32Gi", pods="128", provider_id="mock://e2e")
    async with running_node(
        controlplane, "shape", mock_config=config, internal_ip="10.20.30.40", daemon_port=10555
    ) as vk:
        node = await vk.client.get(f"/api/v1/nodes/{vk.name}")
        labels = node["metadata"]["labels"]
        assert labels["type"] == "virtual-kubelet"
        assert labels["kubernetes.io/role"] == "agent"
        assert labels["kubernetes.io/hostname"] == vk.name
        assert labels["node.kubernetes.io/exclude-from-external-load-balancers"] == "true"
        assert node["spec"]["taints"] == [
            {"key": "virtual-kubelet.io/provider", "value": "mock", "effect": "NoSchedule"}
        ]
        assert node["spec"]["providerID"] == "mock://e2e"
        status = node["status"]
        assert status["capacity"] == {"cpu": "2", "memory": "32Gi", "pods": "128"}
        assert status["allocatable"] == status["capacity"]
        assert status["nodeInfo"]["kubeletVersion"].startswith("v1.31.4-vk-")
        assert status["nodeInfo"]["operatingSystem"] == "linux"
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10555
        assert {"type": "InternalIP", "address": "10.20.30.40"} in status["addresses"]

        async def ready() -> JSON | None:
            current = await vk.client.get(f"/api/v1/nodes/{vk.name}")
            conditions = {c["type"]: c for c in current["status"]["conditions"]}
            return current if conditions["Ready"]["status"] == "True" else None

        current = await eventually(ready)
        conditions = {c["type"]: c for c in current["status"]["conditions"]}
        assert conditions["Ready"]["reason"] == "KubeletReady"
        assert conditions["Ready"]["message"] == "Kubelet is ready"
        assert current["status"]["phase"] == "Running"
        annotations = current["metadata"]["annotations"]
        assert orjson.loads(annotations[LAST_APPLIED_STATUS_ANNOTATION])["phase"] == "Running"
        meta = orjson.loads(annotations[LAST_APPLIED_META_ANNOTATION])
        assert meta["name"] == vk.name


async def test_taint_variants(controlplane: ControlPlane) -> None:
    async with running_node(controlplane, "notaint", taint=None) as vk:
        node = await vk.client.get(f"/api/v1/nodes/{vk.name}")
        assert "taints" not in node["spec"]
    async with running_node(controlplane, "taint", taint=Taint("k", "v", "NoExecute")) as vk:
        node = await vk.client.get(f"/api/v1/nodes/{vk.name}")
        assert node["spec"]["taints"] == [{"key": "k", "value": "v", "effect": "NoExecute"}]


async def test_lease_is_owned_by_the_node_and_renewed(controlplane: ControlPlane) -> None:
    async with running_node(controlplane, "lease") as vk:
        node = await vk.client.get(f"/api/v1/nodes/{vk.name}")
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{vk.name}"
        lease = await vk.client.get(path)
        assert lease["spec"]["holderIdentity"] == vk.name
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": vk.name, "uid": node["metadata"]["uid"]}
        ]
        first = lease["spec"]["renewTime"]

        async def renewal() -> str | None:
            renew_time: str = (await vk.client.get(path))["spec"]["renewTime"]
            return renew_time if renew_time != first else None

        # Polled, not a fixed sleep: on a loaded machine the renewal due at 10 s may land a
        # little after 11 s.
        renewed = await eventually(renewal, timeout=30, interval=0.25)
        assert renewed > first
        gap = dt.datetime.fromisoformat(renewed) - dt.datetime.fromisoformat(first)
        assert dt.timedelta(seconds=9) <= gap <= dt.timedelta(seconds=12)


async def test_others_conditions_and_annotations_survive(controlplane: ControlPlane) -> None:
    async with running_node(controlplane, "keep", status_interval=1.0) as vk:
        path = f"/api/v1/nodes/{vk.name}"
        await vk.client.patch(
            f"{path}/status",
            {
                "metadata": {"annotations": {"admin/note": "hello"}},
                "status": {"conditions": [{"type": "Manual", "status": "True", "reason": "Test"}]},
            },
        )
        await trio.sleep(2.5)  # two of our status patches went by
        node = await vk.client.get(path)
        assert node["metadata"]["annotations"]["admin/note"] == "hello"
        types = {c["type"] for c in node["status"]["conditions"]}
        assert {"Ready", "Manual"} <= types


async def test_deleted_node_is_registered_again(controlplane: ControlPlane) -> None:
    async with running_node(controlplane, "again", status_interval=2.0) as vk:
        path = f"/api/v1/nodes/{vk.name}"
        old = await vk.client.get(path)
        await vk.client.delete(path)

        async def recreated() -> bool:
            node = await vk.get(path)
            return node is not None and node["metadata"]["uid"] != old["metadata"]["uid"]

        await eventually(recreated, timeout=15)


class FlakyMock:
    """The mock, plus a node-health capability whose first pings fail."""

    def __init__(self, name: str, failures: int) -> None:
        self.mock = MockProvider(node_name=name)
        self.failures = failures
        self.node_callback: NodeCallback | None = None

    async def ping(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("backend unreachable")

    def notify_node_status(self, callback: NodeCallback) -> None:
        self.node_callback = callback

    def notify_pods(self, callback: PodCallback) -> None:
        self.mock.notify_pods(callback)

    def configure_node(self, node: JSON) -> None:
        self.mock.configure_node(node)

    async def create_pod(self, pod: Pod) -> None:
        await self.mock.create_pod(pod)

    async def update_pod(self, pod: Pod) -> None:
        await self.mock.update_pod(pod)

    async def delete_pod(self, pod: Pod) -> None:
        await self.mock.delete_pod(pod)

    async def get_pod(self, namespace: str, name: str) -> Pod:
        return await self.mock.get_pod(namespace, name)

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus:
        return await self.mock.get_pod_status(namespace, name)

    async def get_pods(self) -> list[Pod]:
        return await self.mock.get_pods()


async def test_failing_first_ping_gives_a_not_ready_node(controlplane: ControlPlane) -> None:
    name = node_name("ping")
    provider = FlakyMock(name, failures=3)
    async with running_node(
        controlplane, "ping", node_name=name, provider=provider, ping_interval=1.0
    ) as vk:
        node = await vk.client.get(f"/api/v1/nodes/{vk.name}")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"
        assert ready["reason"] == "ProviderPingFailed"
        assert "backend unreachable" in ready["message"]
        lease = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{vk.name}"
        assert await vk.get(lease) is None  # no heartbeat while the provider is unhealthy
        await eventually(lambda: vk.get(lease), timeout=10)  # pings recover: the lease follows


async def test_restart_does_not_flap_not_ready(controlplane: ControlPlane) -> None:
    name = node_name("flap")
    async with running_node(controlplane, "flap", node_name=name) as vk:
        first = await vk.client.get(f"/api/v1/nodes/{vk.name}")
    async with running_node(controlplane, "flap", node_name=name) as vk:
        # every change of the Node since the first run ended, the re-registration included
        seen: list[str] = []
        with trio.move_on_after(3):
            async with vk.client.watch(
                "/api/v1/nodes",
                field_selector=f"metadata.name={name}",
                resource_version=first["metadata"]["resourceVersion"],
            ) as events:
                async for event in events:
                    conditions = event.object["status"]["conditions"]
                    seen.extend(c["status"] for c in conditions if c["type"] == "Ready")
        assert seen
        assert set(seen) == {"True"}
