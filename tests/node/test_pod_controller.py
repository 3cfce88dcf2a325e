"""The pod controller: the decision table, status writes, deletions, restarts (unit level)."""

import trio
import trio.testing

from vk_trio.kube import Gone
from vk_trio.provider import InvalidInputError

from .fakekube import FakeKube
from .fakeprovider import FakeProvider, PolledProvider
from .podharness import make_pod, pod_path, running

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


async def test_label_change_updates_and_status_change_does_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        pod = h.api_pod(KEY)
        assert pod is not None
        pod["metadata"]["labels"]["tier"] = "front"
        h.create(pod)
        await h.wait_for(lambda: provider.called("update_pod") == [KEY])
        assert h.events.reasons(KEY)[-1] == "ProviderUpdateSuccess"
        assert provider.pods[KEY]["metadata"]["labels"]["tier"] == "front"
        # a third party changes only the status: no provider call, the provider's status wins
        pod = h.api_pod(KEY)
        assert pod is not None
        pod["status"]["phase"] = "Unknown"
        h.create(pod)
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert provider.called("update_pod") == [KEY]
        assert len(provider.called("create_pod")) == 1


async def test_a_running_pod_is_remembered_once(autojump_clock: trio.testing.MockClock) -> None:
    """After the echo of our status write, what the controller remembers of the pod is the
    cache's own object, not a second copy of it (memory per pod at 10,000 pods)."""
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await h.wait_for(
            lambda: (
                (c := h.controller._pods.get(KEY)) is not None
                and c["status"].get("phase") == "Running"
            )
        )
        cached = h.controller._pods.get(KEY)
        assert cached is not None
        state = h.controller._known[KEY]
        assert state.last_synced is cached
        assert state.last_write is not None
        assert state.last_write.result is cached["status"]
        # the next status change is still written (the shared objects are not mutated)
        assert provider.callback is not None
        changed = dict(provider.pods[KEY])
        changed["status"] = {**changed["status"], "message": "busy"}
        provider.callback(changed)
        await h.wait_for(lambda: (h.api_pod(KEY) or {})["status"].get("message") == "busy")
        assert cached["status"].get("message") is None
        assert provider.called("update_pod") == []


async def test_status_is_written_only_when_it_differs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await trio.sleep(1)
        writes = len(h.kube.calls("patch", "/status"))
        assert provider.callback is not None
        for _ in range(10):
            provider.callback(dict(provider.pods[KEY]))  # the same status again and again
        await trio.sleep(1)
        assert len(h.kube.calls("patch", "/status")) == writes
        # a new status, notified many times, is one write
        changed = dict(provider.pods[KEY])
        changed["status"] = {**changed["status"], "message": "busy"}
        for _ in range(10):
            provider.callback(changed)
        await trio.sleep(1)
        assert len(h.kube.calls("patch", "/status")) == writes + 1
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["message"] == "busy"


async def test_provider_status_never_touches_metadata(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        stale = dict(provider.pods[KEY])
        stale["metadata"] = {**stale["metadata"], "labels": {"stale": "yes"}, "finalizers": ["x"]}
        stale["status"] = {**stale["status"], "message": "new"}
        assert provider.callback is not None
        provider.callback(stale)
        await trio.sleep(1)
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["message"] == "new"
        assert pod["metadata"]["labels"] == {"app": "web"}
        assert "finalizers" not in pod["metadata"]


async def test_graceful_delete_ends_when_containers_terminate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert took < 1  # the Go version waits the full 30 s
        assert provider.called("delete_pod") == [KEY]
        assert "ProviderDeleteSuccess" in h.events.reasons(KEY)
        # the terminal status was written before the object went away
        statuses = [r.body["status"] for r in h.kube.calls("patch", "/pods/web/status")]
        assert statuses[-1]["phase"] == "Succeeded"
        final = h.kube.calls("delete", "/pods/web")[-1]
        assert final.params["grace_period_seconds"] == 0
        assert final.params["uid"]


async def test_graceful_delete_ends_at_the_grace_period_at_the_latest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.notify_on_delete = False  # the provider never reports the containers stopped
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert 29 <= took <= 31


async def test_deleting_a_pod_with_nothing_running_is_immediate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", *[RuntimeError("backend full")] * 100)
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: len(provider.called("create_pod")) >= 2)
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["reason"] == "ProviderFailed"
        assert pod["status"]["message"] == "backend full"
        assert pod["status"]["phase"] == "Pending"
        assert "ProviderCreateFailed" in h.events.reasons(KEY)
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert took < 1
        assert "ProviderDeleteSuccess" not in h.events.reasons(KEY)


async def test_force_delete_reaches_the_provider_without_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=0)
        await h.wait_for(lambda: KEY not in provider.pods)
        assert h.events.reasons(KEY) == ["ProviderCreateSuccess"]


async def test_tombstone_deletes_reach_the_provider(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        h.kube.vanish(pod_path("ns", "web"))  # deleted while the watch was down
        h.kube.break_watch("/api/v1/pods", Gone("too old resource version", status_code=410))
        await h.wait_for(lambda: KEY not in provider.pods)
        assert provider.called("delete_pod") == [KEY]


async def test_restricted_restart_policy_makes_provider_failure_terminal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", RuntimeError("no capacity"))
    async with running(provider) as h:
        h.create(make_pod("web", restartPolicy="Never"))
        await h.wait_for(lambda: h.phase(KEY) == "Failed")
        await trio.sleep(10)
        assert len(provider.called("create_pod")) == 1  # terminal in the API: not retried


async def test_invalid_input_is_not_retried(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", InvalidInputError("unsupported volume type"))
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: "ProviderCreateFailed" in h.events.reasons(KEY))
        await trio.sleep(30)
        assert len(provider.called("create_pod")) == 1
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["reason"] == "ProviderFailed"


async def test_provider_failures_are_retried_with_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", *[RuntimeError("flaky")] * 5)
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert len(provider.called("create_pod")) == 6
        assert h.events.reasons(KEY).count("ProviderCreateFailed") == 5
        assert h.events.reasons(KEY)[-1] == "ProviderCreateSuccess"


async def test_dangling_pods_are_matched_by_uid(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    stale_same_name = make_pod("keep-name")
    stale_same_name["metadata"]["uid"] = "old-uid"
    provider.pods["ns/keep-name"] = stale_same_name
    provider.pods["ns/gone"] = make_pod("gone")
    alive = make_pod("alive")

    def setup(kube: FakeKube) -> None:
        stored = kube.put(pod_path("ns", "alive"), alive)
        provider.pods["ns/alive"] = {**alive, "metadata": stored["metadata"]}
        kube.put(pod_path("ns", "keep-name"), make_pod("keep-name"))  # a new uid

    async with running(provider, setup=setup) as h:
        # cleanup ran before the controller was ready
        assert sorted(provider.called("delete_pod")) == ["ns/gone", "ns/keep-name"]
        assert h.controller.statistics().dangling_deleted == 2
        await h.wait_for(lambda: "ns/keep-name" in provider.pods)
        assert provider.pods["ns/keep-name"]["metadata"]["uid"] != "old-uid"
        assert provider.called("delete_pod").count("ns/alive") == 0


async def test_status_of_an_earlier_pod_with_the_same_name_is_ignored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    stale = make_pod("web")
    stale["metadata"]["uid"] = "old-uid"
    provider.pods[KEY] = stale

    def setup(kube: FakeKube) -> None:
        kube.put(pod_path("ns", "web"), make_pod("web"))

    async with running(provider, setup=setup) as h:
        # the dangling cleanup deleted the old pod; its terminal status must not land on the new
        assert provider.called("delete_pod") == [KEY]
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await trio.sleep(5)
        assert h.phase(KEY) == "Running"


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


async def test_running_pod_deleted_while_down_respects_its_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.notify_on_delete = False

    def setup(kube: FakeKube) -> None:
        pod = make_pod("web")
        pod["status"] = {
            "phase": "Running",
            "containerStatuses": [{"name": "c", "state": {"running": {}}}],
        }
        pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:20Z"  # 20 s from t=0
        pod["metadata"]["deletionGracePeriodSeconds"] = 30
        kube.put(pod_path("ns", "web"), pod)

    async with running(provider, setup=setup) as h:
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert 19 <= took <= 21
        assert "ProviderDeleteFailed" in h.events.reasons(KEY)  # the fresh provider: NotFound


async def test_polled_provider(autojump_clock: trio.testing.MockClock) -> None:
    provider = PolledProvider()
    async with running(provider, status_poll_interval=5) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: provider.called("create_pod") == [KEY])
        took = await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert took <= 5.1
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert took < 1  # the wrapper reports the pod terminated at once
        writes = [r.body["status"] for r in h.kube.calls("patch", "/pods/web/status")]
        assert writes[-1]["phase"] == "Succeeded"
        assert writes[-1]["reason"] == "Terminated"


async def test_polled_provider_lost_pod_is_failed(autojump_clock: trio.testing.MockClock) -> None:
    provider = PolledProvider()
    async with running(provider, status_poll_interval=5) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        del provider.pods[KEY]  # the backend lost it
        await h.wait_for(lambda: h.phase(KEY) == "Failed")
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["reason"] == "NotFound"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == -137


async def test_provider_initiated_deletion(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        evicted = dict(provider.pods[KEY])
        evicted["metadata"] = {
            **evicted["metadata"],
            "deletionTimestamp": "2023-12-31T00:00:00Z",
            "deletionGracePeriodSeconds": 30,
        }
        assert provider.callback is not None
        provider.callback(evicted)
        await h.wait_for(lambda: bool(h.kube.calls("delete", "/pods/web")))
        assert h.kube.calls("delete", "/pods/web")[0].params["grace_period_seconds"] == 0


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
        assert (
            get("vk_provider_call_duration_seconds_count", {"method": "create_pod", "result": "ok"})
            == 1
        )
        assert get("vk_pod_sync_duration_seconds_count", {"result": "ok"}) == 1
        assert get("vk_pod_status_update_duration_seconds_count", {"result": "ok"}) == 1
        assert get("workqueue_adds_total", {"name": "pod_sync"}) == 1
        assert get("vk_pod_status_writes_total", {"outcome": "written"}) == 1
        assert get("workqueue_depth", {"name": "pod_status"}) == 0


def config_map(name: str, data: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns"}, "data": data}


CM_ENV = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}]


async def test_env_failures_leave_events_and_a_status_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web", env=CM_ENV))
        await h.wait_for(lambda: h.events.reasons(KEY).count("MandatoryConfigMapNotFound") >= 3)
        pod = h.api_pod(KEY)
        assert pod is not None
        assert pod["status"]["reason"] == "CreateContainerConfigError"
        assert pod["status"]["message"] == 'configmap "cfg" not found'
        assert provider.called("create_pod") == []
        # the reason is written once, not on every retry
        assert len(h.kube.calls("patch", "/pods/web/status")) == 1
        h.kube.put("/api/v1/namespaces/ns/configmaps/cfg", config_map("cfg", {"a": "1"}))
        await h.wait_for(lambda: h.phase(KEY) == "Running", timeout=600)
        env = provider.pods[KEY]["spec"]["containers"][0]["env"]
        assert env == [{"name": "A", "value": "1"}]
        pod = h.api_pod(KEY)
        assert pod is not None
        assert "reason" not in pod["status"]  # the provider's status replaced it


async def test_config_caches_are_synced_before_the_first_sync(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()

    def setup(kube: FakeKube) -> None:
        kube.put("/api/v1/namespaces/ns/configmaps/cfg", config_map("cfg", {"a": "1"}))
        kube.put(pod_path("ns", "web"), make_pod("web", env=CM_ENV))
        kube.slow_paths["/configmaps"] = 5.0  # the config-map cache lags far behind the pods

    async with running(provider, setup=setup) as h:
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert h.events.reasons(KEY) == ["ProviderCreateSuccess"]
        assert len(provider.called("create_pod")) == 1


async def test_env_resolution_can_be_turned_off(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    async with running(provider, resolve_env=False) as h:
        h.create(make_pod("web", env=CM_ENV))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        env = provider.pods[KEY]["spec"]["containers"][0]["env"]
        assert env == CM_ENV
