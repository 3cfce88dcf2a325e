"""The pod controller's wiring: informer to queues to workers, start-up, shutdown, metrics."""

import trio
import trio.testing
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from vk_trio.node import PodControllerMetrics

from .fakekube import FakeKube
from .fakeprovider import FakeProvider
from .podharness import NODE, make_pod, pod_path, running

KEY = "ns/web"


async def test_create_reaches_running_with_event(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["podIP"] == "5.6.7.8"
        assert pod["metadata"]["labels"] == {"app": "web"}
        assert provider.called("create_pod") == [KEY]
        assert provider.called("update_pod") == []
        assert h.events.reasons(KEY) == ["ProviderCreateSuccess"]
        assert h.events.events[0][3] == "Create pod in provider successfully"
        # the status write is a merge patch of pods/status that carries only the status
        [write] = h.kube.calls("patch", "/pods/web/status")
        assert write.patch_type == "STRATEGIC"
        assert set(write.body) == {"status"}


async def test_pods_of_other_nodes_are_ignored(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("elsewhere", node="other-node"))
        await trio.sleep(5)
        assert provider.calls == [("get_pods", "")]


async def test_first_enqueue_is_not_rate_limited(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider, sync_workers=10) as h:
        start = trio.current_time()
        for index in range(300):
            h.create(make_pod(f"p{index}"))
        took = await h.wait_for(lambda: len(provider.called("create_pod")) == 300)
        # the default 10 qps / burst 100 bucket would need about 20 s for 300 pods
        assert took < 1
        assert trio.current_time() - start < 1


async def test_restart_recreates_and_leaves_terminal_pods(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()  # a fresh provider: it knows nothing after the restart

    def setup(kube: FakeKube) -> None:
        kube.put(pod_path("ns", "running"), {**make_pod("running"), "status": {"phase": "Running"}})
        done = make_pod("done")
        done["status"] = {"phase": "Succeeded"}
        kube.put(pod_path("ns", "done"), done)
        pending_deleted = make_pod("pending-deleted")
        pending_deleted["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:30Z"
        pending_deleted["metadata"]["deletionGracePeriodSeconds"] = 30
        kube.put(pod_path("ns", "pending-deleted"), pending_deleted)

    async with running(provider, setup=setup) as h:
        await h.wait_for(lambda: "ns/running" in provider.pods)
        await h.wait_for(lambda: h.api_pod("ns/pending-deleted") is None)
        await trio.sleep(5)
        assert "ns/done" not in provider.pods
        assert h.events.reasons("ns/done") == []
        assert h.kube.calls("patch", "/pods/done/") == []
        assert h.events.reasons("ns/running") == ["ProviderCreateSuccess"]


async def test_graceful_shutdown_finishes_in_flight_calls_and_flushes_status(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.latency = 2.0
    async with running(provider, shutdown_timeout=10) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: provider.in_flight == 1)
        h.controller.stop()
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert provider.called("create_pod") == [KEY]
        h.create(make_pod("late"))
        await trio.sleep(5)
        assert "ns/late" not in provider.pods  # no new work after stop()


async def test_queued_work_is_not_started_after_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.latency = 1.0
    async with running(provider, sync_workers=1, shutdown_timeout=10) as h:
        for index in range(5):
            h.create(make_pod(f"p{index}"))
        await h.wait_for(lambda: provider.in_flight == 1)
        h.controller.stop()
        await trio.sleep(20)
        # the one in flight finished; the four queued behind it were not started
        assert provider.called("create_pod") == ["ns/p0"]


async def test_metrics_are_exported(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        get = h.registry.get_sample_value
        node = {"node": NODE}
        assert (
            get(
                "vk_provider_call_duration_seconds_count",
                {**node, "method": "create_pod", "result": "ok"},
            )
            == 1
        )
        assert get("vk_pod_sync_duration_seconds_count", {**node, "result": "ok"}) == 1
        assert get("vk_pod_status_update_duration_seconds_count", {**node, "result": "ok"}) == 1
        assert get("workqueue_adds_total", {**node, "name": "pod_sync"}) == 1
        assert get("vk_pod_status_writes_total", {**node, "outcome": "written"}) == 1
        assert get("workqueue_depth", {**node, "name": "pod_status"}) == 0


async def test_two_controllers_in_one_process_export_their_series_apart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Many nodes per process: two controllers on one registry (and one API server) do not clash
    (the second used to raise DuplicateTimeseries) and a scrape shows each node's series."""
    registry = CollectorRegistry()
    kube = FakeKube()
    first, second = FakeProvider(), FakeProvider()
    async with (
        running(first, kube=kube, registry=registry) as h1,
        running(second, kube=kube, registry=registry, node="vk-2") as h2,
    ):
        h1.create(make_pod("web"))
        h2.create(make_pod("db", node="vk-2"))
        h2.create(make_pod("cache", node="vk-2"))
        await h1.wait_for(lambda: h1.phase(KEY) == "Running")
        await h2.wait_for(lambda: h2.phase("ns/db") == "Running" == h2.phase("ns/cache"))
        assert first.called("create_pod") == [KEY]
        assert sorted(second.called("create_pod")) == ["ns/cache", "ns/db"]
        scrape = generate_latest(registry).decode()
        for node, count in ((NODE, 1), ("vk-2", 2)):
            assert f'workqueue_adds_total{{name="pod_sync",node="{node}"}} {count}.0' in scrape
            assert (
                f'vk_provider_call_duration_seconds_count{{method="create_pod",node="{node}",'
                f'result="ok"}} {count}.0' in scrape
            )
            assert (
                f'vk_pod_status_writes_total{{node="{node}",outcome="written"}} {count}.0' in scrape
            )


def test_metrics_of_two_nodes_share_the_default_registry() -> None:
    first = PodControllerMetrics(node="metrics-test-a")
    second = PodControllerMetrics(node="metrics-test-b")  # used to raise DuplicateTimeseries
    first.count_status("written")
    second.count_status("skipped")
    get = REGISTRY.get_sample_value
    labels = {"node": "metrics-test-a", "outcome": "written"}
    assert get("vk_pod_status_writes_total", labels) == 1
    assert get("vk_pod_status_writes_total", {"node": "metrics-test-b", "outcome": "skipped"}) == 1
    first.close()
    second.close()
    assert get("vk_pod_status_writes_total", labels) is None
