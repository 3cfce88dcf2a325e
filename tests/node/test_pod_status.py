"""The status writer: writes only when needed, echoes, stale reports, provider-initiated deletes."""

from typing import Any

import trio
import trio.testing

from vk_trio.node._pod_deleter import PodDeleter
from vk_trio.node._pod_state import PodRegistry, PodState, StatusWrite
from vk_trio.node._pod_status import StatusWriter
from vk_trio.node._provider_calls import ProviderCalls
from vk_trio.queue import RateLimitingQueue, default_controller_rate_limiter

from .fakekube import FakeKube
from .fakeprovider import FakeProvider
from .podharness import ListEvents, make_pod, pod_path, running, wall_clock

KEY = "ns/web"


async def test_a_running_pod_is_remembered_once(autojump_clock: trio.testing.MockClock) -> None:
    """After the echo of our status write, what the controller remembers of the pod is the
    cache's own object, not a second copy of it (memory per pod at 10,000 pods)."""
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        await h.wait_for(
            lambda: (
                (c := h.controller._registry.api.get(KEY)) is not None
                and c["status"].get("phase") == "Running"
            )
        )
        cached = h.controller._registry.api.get(KEY)
        assert cached is not None
        state = h.controller._registry.known[KEY]
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


def _writer() -> StatusWriter:
    queue: RateLimitingQueue[Any] = RateLimitingQueue(default_controller_rate_limiter())
    registry = PodRegistry(None)  # type: ignore[arg-type]
    deleter = PodDeleter(
        FakeKube(),
        ProviderCalls(FakeProvider()),
        registry,
        ListEvents(),
        queue,
        concurrency=1,
        now=wall_clock,
    )
    return StatusWriter(FakeKube(), registry, queue, deleter)


def test_needs_write_only_when_someone_else_changed_the_status() -> None:
    writer = _writer()
    provider_status = {"phase": "Running", "podIP": "5.6.7.8"}
    state = PodState(provider_pod={**make_pod("web"), "status": provider_status})
    assert not writer.needs_write({"status": dict(provider_status)}, PodState())  # no report
    assert not writer.needs_write({"status": dict(provider_status)}, state)  # the same
    assert writer.needs_write({"status": {"phase": "Unknown"}}, state)  # changed by others
    assert not writer.needs_write({"status": {"phase": "Failed"}}, state)  # terminal: final
    # the echo of our own write, even if it differs from the provider's latest report
    state.last_write = StatusWrite("u", provider_status, {"phase": "Pending"}, "1")
    assert not writer.needs_write({"status": {"phase": "Pending"}}, state)


async def test_a_malformed_status_from_the_provider_is_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Kept, it would break the informer handler for that pod: a later label change would
    never reach the provider."""
    provider = FakeProvider()
    async with running(provider) as h:
        h.create(make_pod("web"))
        await h.wait_for(lambda: h.phase(KEY) == "Running")
        assert provider.callback is not None
        provider.callback({**provider.pods[KEY], "status": "garbage"})
        provider.callback({"metadata": None})
        # someone changes the labels and the status: the handler compares the status with the
        # provider's report, which must still be the last well-formed one
        pod = h.api_pod(KEY)
        assert pod is not None
        pod["metadata"]["labels"]["tier"] = "front"
        pod["status"]["phase"] = "Unknown"
        h.create(pod)
        await h.wait_for(lambda: provider.called("update_pod") == [KEY])
        await h.wait_for(lambda: h.phase(KEY) == "Running")
