"""The mock provider's state machine, statuses, notifications and knobs."""

import copy
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.provider import (
    AttachIO,
    AttachProvider,
    ContainerLogOptions,
    ContainerLogsProvider,
    ExecProvider,
    MetricsResourceProvider,
    NodeConfigurer,
    NodeProvider,
    NotFoundError,
    Pod,
    PodLifecycleHandler,
    PodNotifier,
    PortForwardProvider,
    Runnable,
    StatsSummaryProvider,
    is_not_found,
)
from vk_trio_mock import FailurePlan, MockConfig, MockInjectedError, MockKnobs, MockProvider

NOW = "2024-01-02T03:04:05Z"
LATER = "2024-01-02T03:05:00Z"


class Clock:
    """Wall-clock text the test controls."""

    def __init__(self) -> None:
        self.value = NOW

    def __call__(self) -> str:
        return self.value


def make_pod(name: str = "p", namespace: str = "ns", containers: int = 2) -> Pod:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {
            "nodeName": "vk",
            "containers": [{"name": f"c{i}", "image": f"img{i}"} for i in range(containers)],
        },
        "status": {"phase": "Pending"},
    }


def make_mock(
    knobs: MockKnobs | None = None, clock: Clock | None = None
) -> tuple[MockProvider, list[Pod]]:
    config = MockConfig(knobs=knobs or MockKnobs())
    mock = MockProvider(node_name="vk", config=config, internal_ip="10.1.2.3", now=clock or Clock())
    notified: list[Pod] = []
    mock.notify_pods(notified.append)
    return mock, notified


def test_capabilities() -> None:
    mock, _ = make_mock()
    for protocol in (
        PodLifecycleHandler,
        PodNotifier,
        NodeConfigurer,
        ContainerLogsProvider,
        ExecProvider,
        AttachProvider,
        PortForwardProvider,
        StatsSummaryProvider,
        MetricsResourceProvider,
    ):
        assert isinstance(mock, protocol), protocol
    # No ping: the node treats the mock as always healthy and marks it Ready itself (as upstream).
    assert not isinstance(mock, NodeProvider)
    assert not isinstance(mock, Runnable)


async def test_create_reports_the_go_mock_running_status() -> None:
    mock, notified = make_mock()
    await mock.create_pod(make_pod())
    running = {"startedAt": NOW}
    expected_status = {
        "phase": "Running",
        "hostIP": "1.2.3.4",
        "hostIPs": [{"ip": "1.2.3.4"}],
        "podIP": "5.6.7.8",
        "podIPs": [{"ip": "5.6.7.8"}],
        "startTime": NOW,
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [
            {
                "name": f"c{i}",
                "image": f"img{i}",
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "state": {"running": running},
            }
            for i in range(2)
        ],
    }
    assert len(notified) == 1
    assert notified[0]["status"] == expected_status
    assert notified[0]["metadata"]["name"] == "p"
    assert await mock.get_pod_status("ns", "p") == expected_status
    stored = await mock.get_pod("ns", "p")
    assert stored is not None
    assert stored["spec"]["containers"][0]["image"] == "img0"
    assert [p["metadata"]["name"] for p in await mock.get_pods()] == ["p"]


async def test_delete_reports_succeeded_with_terminated_containers() -> None:
    clock = Clock()
    mock, notified = make_mock(clock=clock)
    await mock.create_pod(make_pod())
    clock.value = LATER
    api_pod = make_pod()
    api_pod["metadata"]["deletionTimestamp"] = LATER
    await mock.delete_pod(api_pod)
    status = notified[-1]["status"]
    assert status["phase"] == "Succeeded"
    assert status["reason"] == "MockProviderPodDeleted"
    assert status["podIP"] == "5.6.7.8"
    assert status["hostIP"] == "1.2.3.4"
    assert [c["ready"] for c in status["containerStatuses"]] == [False, False]
    assert status["containerStatuses"][0]["state"] == {
        "terminated": {
            "exitCode": 0,
            "reason": "MockProviderPodContainerDeleted",
            "message": "Mock provider terminated container upon deletion",
            "startedAt": NOW,
            "finishedAt": LATER,
        }
    }
    # the notified pod carries the deletion metadata it was given
    assert notified[-1]["metadata"]["deletionTimestamp"] == LATER
    assert await mock.get_pods() == []
    with pytest.raises(NotFoundError):
        await mock.get_pod("ns", "p")


async def test_delete_of_non_running_container_has_no_start_time() -> None:
    mock, notified = make_mock()
    await mock.create_pod(make_pod(containers=1))
    stored = await mock.get_pod("ns", "p")
    assert stored is not None
    stored["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "Pulling"}}
    await mock.delete_pod(make_pod(containers=1))
    terminated = notified[-1]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert "startedAt" not in terminated


async def test_unknown_pods_are_not_found() -> None:
    mock, notified = make_mock()
    with pytest.raises(NotFoundError, match=r"^pod not found$"):
        await mock.delete_pod(make_pod())
    with pytest.raises(NotFoundError, match='pod "ns/p" is not known to the provider'):
        await mock.get_pod("ns", "p")
    with pytest.raises(NotFoundError):
        await mock.get_pod_status("ns", "p")
    assert notified == []


async def test_delete_twice_second_is_not_found() -> None:
    mock, _ = make_mock()
    await mock.create_pod(make_pod())
    await mock.delete_pod(make_pod())
    with pytest.raises(NotFoundError) as info:
        await mock.delete_pod(make_pod())
    assert is_not_found(info.value)


async def test_pods_with_dashes_do_not_collide() -> None:
    mock, _ = make_mock()
    await mock.create_pod(make_pod(namespace="a-b", name="c"))
    await mock.create_pod(make_pod(namespace="a", name="b-c"))
    assert len(await mock.get_pods()) == 2
    await mock.delete_pod(make_pod(namespace="a", name="b-c"))
    assert await mock.get_pod("a-b", "c") is not None


async def test_update_stores_the_new_pod_and_keeps_the_reported_status() -> None:
    mock, notified = make_mock()
    await mock.create_pod(make_pod())
    changed = make_pod()  # carries the API server's (stale) Pending status
    changed["metadata"]["labels"] = {"new": "label"}
    await mock.update_pod(changed)
    stored = await mock.get_pod("ns", "p")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"new": "label"}
    assert stored["status"]["phase"] == "Running"
    assert notified[-1] is stored
    assert mock.statistics().updates == 1


async def test_update_of_unknown_pod_is_not_found() -> None:
    # the one "not found" convention: an unknown pod is NotFoundError, never stored or None
    mock, notified = make_mock()
    with pytest.raises(NotFoundError):
        await mock.update_pod(make_pod())
    with pytest.raises(NotFoundError):
        await mock.get_pod_status("ns", "p")
    assert notified == []


async def test_notifications_before_registration_are_dropped_safely() -> None:
    mock = MockProvider(node_name="vk")
    await mock.create_pod(make_pod())
    assert mock.statistics().notifications == 1


async def test_statistics_count_calls() -> None:
    mock, _ = make_mock()
    for i in range(3):
        await mock.create_pod(make_pod(name=f"p{i}"))
    await mock.delete_pod(make_pod(name="p0"))
    stats = mock.statistics()
    assert (stats.pods, stats.creates, stats.deletes, stats.updates) == (2, 3, 1, 0)
    assert stats.notifications == 4
    assert stats.injected_failures == 0


async def test_latency_knob_sleeps_on_the_trio_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mock, _ = make_mock(knobs=MockKnobs(latency={"create": 2.5, "get": 0.5, "list": 1.0}))
    start = trio.current_time()
    await mock.create_pod(make_pod())
    assert trio.current_time() - start == pytest.approx(2.5)
    await mock.get_pod_status("ns", "p")
    assert trio.current_time() - start == pytest.approx(3.0)
    await mock.get_pods()
    assert trio.current_time() - start == pytest.approx(4.0)
    await mock.delete_pod(make_pod())  # no delete latency configured
    assert trio.current_time() - start == pytest.approx(4.0)


async def test_latency_is_cancellable(autojump_clock: trio.testing.MockClock) -> None:
    mock, _ = make_mock(knobs=MockKnobs(latency={"create": 60}))
    with trio.move_on_after(1):
        await mock.create_pod(make_pod())
    assert await mock.get_pods() == []


async def test_nth_failures() -> None:
    mock, notified = make_mock(
        knobs=MockKnobs(failures={"create": FailurePlan(nth=frozenset({1, 3}))})
    )
    outcomes = []
    for i in range(4):
        try:
            await mock.create_pod(make_pod(name=f"p{i}"))
            outcomes.append("ok")
        except MockInjectedError as exc:
            outcomes.append(str(exc))
    assert outcomes == [
        "mock: injected failure of create call #1",
        "ok",
        "mock: injected failure of create call #3",
        "ok",
    ]
    assert sorted(p["metadata"]["name"] for p in await mock.get_pods()) == ["p1", "p3"]
    assert len(notified) == 2
    assert mock.statistics().injected_failures == 2
    assert mock.statistics().creates == 4


async def test_fraction_failures_are_deterministic_with_a_seed() -> None:
    async def run() -> list[bool]:
        plan = FailurePlan(fraction=0.3, seed=42, message="quota exceeded")
        mock, _ = make_mock(knobs=MockKnobs(failures={"update": plan}))
        await mock.create_pod(make_pod())  # updates are of a known pod
        results = []
        for _ in range(200):
            try:
                await mock.update_pod(make_pod())
                results.append(True)
            except MockInjectedError as exc:
                assert str(exc) == "quota exceeded"
                results.append(False)
        return results

    first, second = await run(), await run()
    assert first == second
    failures = first.count(False)
    assert 30 <= failures <= 90  # 0.3 of 200, well inside the binomial spread


async def test_fraction_one_fails_every_delete_and_keeps_the_pod() -> None:
    mock, _ = make_mock(knobs=MockKnobs(failures={"delete": FailurePlan(fraction=1.0)}))
    await mock.create_pod(make_pod())
    for _ in range(3):
        with pytest.raises(MockInjectedError):
            await mock.delete_pod(make_pod())
    assert len(await mock.get_pods()) == 1


def test_configure_node_shapes_the_node_as_the_go_mock() -> None:
    config = MockConfig(
        cpu="2", memory="32Gi", pods="128", others={"gpu": "1"}, provider_id="m://v"
    )
    mock = MockProvider(
        node_name="vk",
        config=config,
        operating_system="windows",
        internal_ip="10.1.2.3",
        daemon_port=10555,
        now=Clock(),
    )
    node: dict[str, Any] = {
        "metadata": {"name": "vk", "labels": {"type": "virtual-kubelet"}},
        "status": {"nodeInfo": {"kubeletVersion": "v1.31.4-vk-0.1.0", "architecture": "arm64"}},
    }
    mock.configure_node(node)
    assert node["metadata"]["labels"] == {
        "type": "virtual-kubelet",
        "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
    }
    assert node["spec"] == {"providerID": "m://v"}
    status = node["status"]
    capacity = {"cpu": "2", "memory": "32Gi", "pods": "128", "gpu": "1"}
    assert status["capacity"] == capacity
    assert status["allocatable"] == capacity
    assert status["capacity"] is not status["allocatable"]
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.1.2.3"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10555}}
    assert status["nodeInfo"] == {
        "kubeletVersion": "v1.31.4-vk-0.1.0",
        "architecture": "amd64",
        "operatingSystem": "windows",
    }
    conditions = {c["type"]: c for c in status["conditions"]}
    assert list(conditions) == [
        "Ready",
        "OutOfDisk",
        "MemoryPressure",
        "DiskPressure",
        "NetworkUnavailable",
    ]
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "KubeletPending"
    assert conditions["Ready"]["message"] == "kubelet is pending."
    assert conditions["NetworkUnavailable"]["reason"] == "RouteCreated"
    assert all(c["status"] == "False" for c in conditions.values())
    assert all(c["lastHeartbeatTime"] == NOW for c in conditions.values())


def test_configure_node_without_provider_id_leaves_spec_alone() -> None:
    mock = MockProvider(node_name="vk")
    node: dict[str, Any] = {"metadata": {"name": "vk"}}
    mock.configure_node(node)
    assert "spec" not in node
    assert node["status"]["capacity"] == {"cpu": "20", "memory": "100Gi", "pods": "20"}
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": ""}]


async def test_streaming_calls_need_a_known_pod_and_container() -> None:
    # The behaviour of each capability is tested in test_logs/test_commands/test_echo.
    mock, _ = make_mock()
    with pytest.raises(NotFoundError, match='pod "ns/p" is not known'):
        await mock.get_container_logs("ns", "p", "c0", ContainerLogOptions())
    await mock.create_pod(make_pod())
    with pytest.raises(NotFoundError, match='container "zz" is not in pod "ns/p"'):
        await mock.run_in_container("ns", "p", "zz", ["ls"], AttachIO())
    with pytest.raises(NotFoundError, match='container "zz"'):
        await mock.attach_to_container("ns", "p", "zz", AttachIO())
    left, _right = trio.testing.memory_stream_pair()
    with pytest.raises(NotFoundError):
        await mock.port_forward("ns", "other", 80, left)


async def test_stats_summary_sums_container_usage() -> None:
    mock, _ = make_mock()
    await mock.create_pod(make_pod(containers=3))
    summary = await mock.get_stats_summary()
    assert summary["node"] == {"nodeName": "vk", "startTime": NOW}
    (pod,) = summary["pods"]
    assert pod["podRef"] == {"name": "p", "namespace": "ns", "uid": "uid-ns-p"}
    assert pod["startTime"] == "2024-01-01T00:00:00Z"
    assert [c["name"] for c in pod["containers"]] == ["c0", "c1", "c2"]
    cpu = [c["cpu"]["usageNanoCores"] for c in pod["containers"]]
    mem = [c["memory"]["usageBytes"] for c in pod["containers"]]
    assert all(0 <= v < 2**32 for v in cpu + mem)
    assert pod["cpu"] == {"time": NOW, "usageNanoCores": sum(cpu)}
    assert pod["memory"] == {"time": NOW, "usageBytes": sum(mem)}


async def test_stats_summary_without_pods() -> None:
    mock, _ = make_mock()
    assert (await mock.get_stats_summary())["pods"] == []


async def test_metrics_resource_families() -> None:
    mock, _ = make_mock()
    families = {f.name: f for f in await mock.get_metrics_resource()}
    assert set(families) == {"node_cpu_usage_seconds_total", "node_memory_working_set_bytes"}
    await mock.create_pod(make_pod(containers=3))
    families = {f.name: f for f in await mock.get_metrics_resource()}
    assert families["pod_cpu_usage_seconds_total"].type == "counter"
    assert families["pod_memory_working_set_bytes"].type == "gauge"
    (pod_sample,) = families["pod_cpu_usage_seconds_total"].samples
    namespace = pod_sample.labels[0][1]
    assert pod_sample.labels == (("namespace", namespace), ("pod", "p"))
    (node_sample,) = families["node_cpu_usage_seconds_total"].samples
    assert node_sample.labels == ()
    container = families["container_cpu_usage_seconds_total"].samples
    assert len(container) == 3
    assert all(s.labels[1:] == (("namespace", namespace), ("pod", "p")) for s in container)
    assert container[2].labels[0] == ("container", "c2")
    usage = [f for name, f in families.items() if name != "container_start_time_seconds"]
    assert all(s.value == 100.0 and s.timestamp_ms for f in usage for s in f.samples)
    starts = families["container_start_time_seconds"].samples
    assert [s.labels for s in starts] == [s.labels for s in container]
    assert all(s.value > 0 for s in starts)


async def test_pod_handed_in_is_kept_not_copied() -> None:
    # The controller hands the provider its own copy; the mock keeps it (hot path: no copies).
    mock, notified = make_mock()
    pod = make_pod()
    before = copy.deepcopy(pod["spec"])
    await mock.create_pod(pod)
    assert notified[0] is pod
    assert pod["spec"] == before
