"""VirtualNode: start-up order, provider capabilities, graceful stop (on the API fake)."""

from typing import Any

import trio
import trio.testing
from prometheus_client import CollectorRegistry, generate_latest

from vk_trio.node import NodeOptions, Taint, VirtualNode
from vk_trio.provider import LateResourceLookup, NodeCallback

from .fakekube import FakeKube
from .fakeprovider import FakeProvider
from .podharness import make_pod, pod_path, wall_clock

NODE_PATH = "/api/v1/nodes/vk"
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vk"


class FullProvider(FakeProvider):
    """Also shapes the node, reports node health and runs background work."""

    def __init__(self) -> None:
        super().__init__()
        self.node_callback: NodeCallback | None = None
        self.pings = 0
        self.background_started = False

    def configure_node(self, node: dict[str, Any]) -> None:
        node["status"]["capacity"] = {"cpu": "4", "pods": "100"}
        node["status"]["allocatable"] = {"cpu": "4", "pods": "100"}
        node["metadata"]["labels"]["provider/extra"] = "yes"

    async def ping(self) -> None:
        self.pings += 1

    def notify_node_status(self, callback: NodeCallback) -> None:
        self.node_callback = callback

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.background_started = True
        task_status.started()
        await trio.sleep_forever()


def options(**extra: Any) -> NodeOptions:
    return NodeOptions(
        node_name="vk",
        provider_name="fake",
        taint=Taint("virtual-kubelet.io/provider", "fake"),
        internal_ip="10.0.0.7",
        **extra,
    )


def ready_condition(kube: FakeKube) -> dict[str, Any]:
    return next(c for c in kube.objects[NODE_PATH]["status"]["conditions"] if c["type"] == "Ready")


async def test_plain_provider_node_is_marked_ready(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    provider = FakeProvider()
    resources = LateResourceLookup()
    node = VirtualNode(
        options(), kube, provider, resources=resources, registry=CollectorRegistry(), now=wall_clock
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        assert node.ready.is_set()
        await trio.sleep(0.1)
        registered = kube.objects[NODE_PATH]
        assert registered["spec"]["taints"] == [
            {"key": "virtual-kubelet.io/provider", "value": "fake", "effect": "NoSchedule"}
        ]
        assert registered["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.7"}]
        assert ready_condition(kube)["reason"] == "KubeletReady"
        assert LEASE_PATH in kube.objects
        assert resources.is_bound
        assert resources.list_pods() == []
        kube.put(pod_path("ns", "web"), make_pod("web"))
        with trio.fail_after(5):
            while kube.objects[pod_path("ns", "web")]["status"].get("phase") != "Running":
                await kube.changed.wait()
        await trio.sleep(1)
        events = [o for p, o in kube.objects.items() if "/events/" in p]
        assert [e["reason"] for e in events] == ["ProviderCreateSuccess"]
        assert events[0]["source"]["component"] == "vk/pod-controller"
        stats = node.statistics()
        assert stats.pods.known_pods == 1
        assert stats.node.registrations == 1
        assert stats.events.created == 1
        node.stop()
    assert provider.called("create_pod") == ["ns/web"]


async def test_capable_provider_shapes_and_reports_the_node(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    provider = FullProvider()
    node = VirtualNode(options(), kube, provider, registry=CollectorRegistry(), now=wall_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        assert provider.background_started
        registered = kube.objects[NODE_PATH]
        assert registered["status"]["capacity"] == {"cpu": "4", "pods": "100"}
        assert registered["metadata"]["labels"]["provider/extra"] == "yes"
        assert ready_condition(kube)["status"] == "False"  # the provider decides readiness
        assert provider.pings >= 1
        assert provider.node_callback is not None
        update = {
            "status": {
                **registered["status"],
                "conditions": [{"type": "Ready", "status": "True", "reason": "AllGood"}],
            }
        }
        provider.node_callback(update)
        await trio.sleep(0.1)
        assert ready_condition(kube)["reason"] == "AllGood"
        await trio.sleep(25)
        assert provider.pings >= 3
        node.stop()


async def test_graceful_stop_flushes_work(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    provider = FakeProvider()
    provider.latency = 3.0
    node = VirtualNode(options(), kube, provider, registry=CollectorRegistry(), now=wall_clock)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            kube.put(pod_path("ns", "web"), make_pod("web"))
            while provider.in_flight == 0:
                with trio.move_on_after(0.01):
                    await kube.changed.wait()
            assert "phase" not in kube.objects[pod_path("ns", "web")]["status"] or (
                kube.objects[pod_path("ns", "web")]["status"]["phase"] == "Pending"
            )
            node.stop()
    # run() returned on its own: the in-flight create finished and its status was written
    assert kube.objects[pod_path("ns", "web")]["status"]["phase"] == "Running"
    events = [o for p, o in kube.objects.items() if "/events/" in p]
    assert [e["reason"] for e in events] == ["ProviderCreateSuccess"]


async def test_events_go_through_their_own_client(autojump_clock: trio.testing.MockClock) -> None:
    """With ``event_client`` (the CLI's rate-limited event client) no event uses the main one."""
    kube = FakeKube()
    event_kube = FakeKube()
    node = VirtualNode(
        options(),
        kube,
        FakeProvider(),
        registry=CollectorRegistry(),
        event_client=event_kube,
        now=wall_clock,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        kube.put(pod_path("ns", "web"), make_pod("web"))
        with trio.fail_after(5):
            while kube.objects[pod_path("ns", "web")]["status"].get("phase") != "Running":
                await kube.changed.wait()
        await trio.sleep(1)
        node.stop()
    assert not [p for p in kube.objects if "/events/" in p]
    events = [o for p, o in event_kube.objects.items() if "/events/" in p]
    assert [e["reason"] for e in events] == ["ProviderCreateSuccess"]


async def test_two_nodes_in_one_process_keep_their_metrics_apart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two VirtualNodes on one registry (the second used to raise DuplicateTimeseries): a scrape
    shows each node's pod-controller and queue series apart, and a stopped node's go away."""
    kube = FakeKube()
    registry = CollectorRegistry()
    providers = {"vk": FakeProvider(), "vk-2": FakeProvider()}
    nodes = {
        name: VirtualNode(
            NodeOptions(node_name=name, provider_name="fake"),
            kube,
            provider,
            registry=registry,
            now=wall_clock,
        )
        for name, provider in providers.items()
    }
    get = registry.get_sample_value
    async with trio.open_nursery() as nursery:
        await nursery.start(nodes["vk-2"].run)
        async with trio.open_nursery() as first:
            await first.start(nodes["vk"].run)
            kube.put(pod_path("ns", "a"), make_pod("a", node="vk"))
            for name in ("b", "c"):
                kube.put(pod_path("ns", name), make_pod(name, node="vk-2"))
            with trio.fail_after(60):
                while not all(
                    kube.objects[pod_path("ns", n)]["status"].get("phase") == "Running"
                    for n in ("a", "b", "c")
                ):
                    with trio.move_on_after(0.01):
                        await kube.changed.wait()
            assert providers["vk"].called("create_pod") == ["ns/a"]
            assert sorted(providers["vk-2"].called("create_pod")) == ["ns/b", "ns/c"]
            scrape = generate_latest(registry).decode()
            for node_name, count in (("vk", 1), ("vk-2", 2)):
                adds = f'workqueue_adds_total{{name="pod_sync",node="{node_name}"}} {count}.0'
                assert adds in scrape
                sync = f'vk_pod_sync_duration_seconds_count{{node="{node_name}",result="ok"}}'
                assert f"{sync} {count}.0" in scrape
            nodes["vk"].stop()  # run() returns, and the first nursery with it
        assert get("vk_pod_sync_duration_seconds_count", {"node": "vk", "result": "ok"}) is None
        assert get("workqueue_adds_total", {"node": "vk", "name": "pod_sync"}) is None
        assert get("workqueue_adds_total", {"node": "vk-2", "name": "pod_sync"}) == 2
        nodes["vk-2"].stop()
