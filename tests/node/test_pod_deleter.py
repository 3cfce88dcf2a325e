"""The deleter: graceful and forced deletes, tombstones, dangling pods, not-found deletes."""

from typing import Any

import trio
import trio.testing

from vk_trio.kube import Gone

from .fakekube import FakeKube
from .fakeprovider import FakeProvider, PolledProvider
from .podharness import make_pod, pod_path, running

KEY = "ns/web"


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
        # the fresh provider does not have the pod (NotFound): that delete is done, not failed
        assert "ProviderDeleteFailed" not in h.events.reasons(KEY)
        assert "ProviderDeleteSuccess" in h.events.reasons(KEY)


async def test_deleting_a_pod_the_provider_does_not_have_counts_as_done(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A stateless provider forgets its pods on a restart: its NotFound on delete means there is
    nothing left to delete, not ProviderDeleteFailed, and it is not retried."""
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        del provider.pods[KEY]  # the provider restarted and kept nothing
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert provider.called("delete_pod") == [KEY]
        assert "ProviderDeleteFailed" not in h.events.reasons(KEY)
        assert h.events.reasons(KEY)[-1] == "ProviderDeleteSuccess"


async def test_polled_provider_without_the_pod_ends_its_deletion_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = PolledProvider()
    async with running(provider, status_poll_interval=5) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        del provider.pods[KEY]
        await h.kube.delete(pod_path("ns", "web"), grace_period_seconds=30)
        took = await h.wait_for(lambda: h.api_pod(KEY) is None)
        assert took < 1  # reported terminated by the poller's delete, as for a real delete
        assert "ProviderDeleteFailed" not in h.events.reasons(KEY)
        writes = [r.body["status"] for r in h.kube.calls("patch", "/pods/web/status")]
        assert writes[-1]["reason"] == "Terminated"


async def test_dangling_pod_deletes_are_retried(autojump_clock: trio.testing.MockClock) -> None:
    provider = FakeProvider()
    provider.pods["ns/flaky"] = make_pod("flaky")
    provider.fail("delete_pod", RuntimeError("busy"), RuntimeError("busy"))
    async with running(provider) as h:
        assert provider.called("delete_pod") == ["ns/flaky"] * 3
        assert 1.5 <= trio.current_time() < 1.6  # waited 0.5 s, then 1 s (the back-off helper)
        assert "ns/flaky" not in provider.pods
        assert h.controller.statistics().dangling_deleted == 1


async def test_dangling_pod_cleanup_gives_up_without_failing_start_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = FakeProvider()
    provider.pods["ns/stuck"] = make_pod("stuck")
    provider.fail("delete_pod", *[RuntimeError("busy")] * 10)
    async with running(provider) as h:
        assert provider.called("delete_pod") == ["ns/stuck"] * 3
        assert "ns/stuck" in provider.pods
        assert h.controller.statistics().dangling_deleted == 0
        assert h.controller.ready.is_set()


async def test_a_hung_provider_listing_does_not_hold_up_start_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class HungList(FakeProvider):
        async def get_pods(self) -> list[dict[str, Any]]:
            await trio.sleep_forever()
            raise AssertionError("unreachable")

    provider = HungList()
    async with running(provider, provider_timeout=30) as h:
        # the dangling-pod cleanup gave up on the listing at its deadline, and pods are served
        assert 30 <= trio.current_time() < 31
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
