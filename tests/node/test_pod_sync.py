"""The sync worker: the decision table, provider failures, environment resolution."""

import functools
from typing import Any

import trio
import trio.testing

from vk_trio.node import NodeOptions
from vk_trio.provider import InvalidInputError
from vk_trio.queue import ItemExponentialFailureRateLimiter

from .fakekube import FakeKube
from .fakeprovider import FakeProvider
from .podharness import make_pod, pod_path, running

KEY = "ns/web"


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


async def test_restricted_restart_policy_fails_the_pod_only_for_invalid_input(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Issue 13 finding 7: with restartPolicy Never, invalid input (no retry can fix it) makes
    the pod Failed and is not retried; before, any provider error did that."""
    provider = FakeProvider()
    provider.fail("create_pod", InvalidInputError("unsupported volume type"))
    async with running(provider) as h:
        h.create(make_pod("web", restartPolicy="Never"))
        await h.wait_for(lambda: h.phase(KEY) == "Failed")
        await trio.sleep(10)
        assert len(provider.called("create_pod")) == 1  # terminal in the API: not retried


async def test_a_transient_error_does_not_fail_a_restart_never_pod(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", RuntimeError("no capacity"))
    async with running(provider) as h:
        h.create(make_pod("web", restartPolicy="Never"))
        await h.wait_for(lambda: "ProviderCreateFailed" in h.events.reasons(KEY))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert len(provider.called("create_pod")) == 2
        phases = [r.body["status"].get("phase") for r in h.kube.calls("patch", "/pods/web/status")]
        assert "Failed" not in phases  # marked Pending/ProviderFailed, then retried


async def test_a_resync_requeues_a_pod_dropped_after_its_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An item dropped after max retries used to never come back (a resync skipped unchanged
    pods); the provider does not have it, so the next resync queues it again."""
    provider = FakeProvider()
    provider.fail("create_pod", RuntimeError("backend down"), RuntimeError("still down"))
    async with running(provider, max_retries=1, resync_period=60) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: len(provider.called("create_pod")) == 2)
        assert h.phase(KEY) == "Pending"  # dropped after two failed attempts
        took = await h.wait_for(lambda: h.phase(KEY) == "Running", timeout=120)
        assert took <= 61
        assert len(provider.called("create_pod")) == 3
        # a synced, unchanged pod is not sent through the sync queue again on later resyncs
        adds = h.registry.get_sample_value(
            "workqueue_adds_total", {"node": "vk", "name": "pod_sync"}
        )
        await trio.sleep(180)
        assert (
            h.registry.get_sample_value("workqueue_adds_total", {"node": "vk", "name": "pod_sync"})
            == adds
        )
        assert len(provider.called("create_pod")) == 3


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


async def test_hung_provider_calls_time_out_and_are_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Hung creates used to hold every sync worker for ever: now each call has a deadline, fails
    like any error (event, ProviderFailed, retry) and frees its worker."""

    class Hanging(FakeProvider):
        hang = True

        async def create_pod(self, pod: dict[str, Any]) -> None:
            if self.hang and pod["metadata"]["name"].startswith("hung"):
                self.calls.append(("create_pod", "hanging"))
                await trio.sleep_forever()
            await super().create_pod(pod)

    provider = Hanging()
    async with running(provider, sync_workers=2, provider_timeout=30) as h:
        for name in ("hung-1", "hung-2", "web"):
            h.create(make_pod(name))
        took = await h.wait_for(lambda: h.phase(KEY) == "Running", timeout=600)
        assert 30 <= took <= 120
        reasons = h.events.reasons("ns/hung-1")
        assert "ProviderCreateFailed" in reasons
        assert any("did not answer within 30s" in e[3] for e in h.events.events)
        hung = h.api_pod("ns/hung-1")
        assert hung is not None
        assert hung["status"]["reason"] == "ProviderFailed"
        provider.hang = False  # the backend recovers: the retries get through
        await h.wait_for(lambda: h.phase("ns/hung-1") == "Running", timeout=3600)


def test_provider_deadlines_have_defaults() -> None:
    options = NodeOptions(node_name="vk")
    assert options.provider_timeout == 120
    assert options.status_poll_timeout == 10
    assert options.ping_timeout == 10


async def test_a_resync_does_not_cut_short_the_back_off_of_a_failing_pod(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.fail("create_pod", *[RuntimeError("backend down")] * 8)
    slow = functools.partial(ItemExponentialFailureRateLimiter, 1.0, 1000.0)
    async with running(provider, resync_period=60, rate_limiter=slow) as h:
        h.create(make_pod("web"))
        # retries 1 s doubling: the 8th failure comes at 127 s, the next attempt at 255 s;
        # the resyncs at 180 and 240 s in between must not add attempts of their own
        await trio.sleep(130)
        assert len(provider.called("create_pod")) == 8
        await trio.sleep(120)  # t = 250
        assert len(provider.called("create_pod")) == 8
        await h.wait_for(lambda: h.phase(KEY) == "Running", timeout=60)
        assert len(provider.called("create_pod")) == 9
