"""The node controller with ping and lease, against the in-memory API fake."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
import trio.testing

from vk_trio.kube import Gone
from vk_trio.node._kube import Conflict, Forbidden, InternalError, ServerTimeout
from vk_trio.node._node_controller import PING_FAILED_REASON, REGISTER_BACKOFF, NodeController
from vk_trio.node._node_object import build_node
from vk_trio.node._node_status import LAST_APPLIED_STATUS_ANNOTATION

from .badserver import not_json_error
from .fakekube import FakeKube

NODE_PATH = "/api/v1/nodes/vk"
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vk"


class WallClock:
    """A wall clock that follows trio's (mock) clock."""

    def __init__(self) -> None:
        self.origin = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.origin + dt.timedelta(seconds=trio.current_time())


def node_object() -> dict[str, Any]:
    return build_node("vk", now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), capacity={"pods": "10"})


@asynccontextmanager
async def running(controller: NodeController) -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)
        yield nursery
        nursery.cancel_scope.cancel()


def conditions(kube: FakeKube) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in kube.objects[NODE_PATH]["status"]["conditions"]}


async def test_registers_node_and_lease(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        assert controller.ready.is_set()
        node = kube.objects[NODE_PATH]
        assert node["metadata"]["labels"]["type"] == "virtual-kubelet"
        assert node["status"]["capacity"] == {"pods": "10"}
        # the created Node already records what we applied, for the next three-way patch
        annotations = node["metadata"]["annotations"]
        assert orjson.loads(annotations[LAST_APPLIED_STATUS_ANNOTATION]) == node["status"]
        lease = kube.objects[LEASE_PATH]
        assert lease["spec"]["holderIdentity"] == "vk"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": "vk", "uid": node["metadata"]["uid"]}
        ]
    assert controller.statistics().registrations == 1


async def test_existing_node_is_patched_and_foreign_data_kept(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    existing = node_object()
    existing["metadata"]["annotations"] = {"admin/note": "keep me"}
    existing["status"]["conditions"].append({"type": "Foreign", "status": "True"})
    kube.put(NODE_PATH, existing)
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        pass
    assert kube.calls("create", "/nodes") == []
    node = kube.objects[NODE_PATH]
    assert node["metadata"]["annotations"]["admin/note"] == "keep me"
    assert "Foreign" in conditions(kube)
    assert orjson.loads(node["metadata"]["annotations"][LAST_APPLIED_STATUS_ANNOTATION])
    patch = kube.calls("patch", "/nodes/vk/status")[0]
    assert patch.patch_type == "STRATEGIC"


async def test_heartbeat_cadence(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        renew_times = []
        await trio.sleep(5)
        for _ in range(13):
            renew_times.append(kube.objects[LEASE_PATH]["spec"]["renewTime"])
            await trio.sleep(10)
    assert len(set(renew_times)) == 13  # a renewal every 10 s
    assert renew_times[1] == "2024-01-01T00:00:10.000000Z"
    # registration (t=0) + status patches at 60 s and 120 s
    status_patches = kube.calls("patch", "/nodes/vk/status")
    assert len(status_patches) == 2
    assert conditions(kube)["Ready"]["lastHeartbeatTime"] == "2024-01-01T00:02:00Z"
    assert controller.lease_controller is not None
    assert controller.lease_controller.statistics().renewals == 13


async def test_without_lease_status_follows_ping_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), lease=False, now=WallClock())
    async with running(controller):
        await trio.sleep(35)
    assert len(kube.calls("patch", "/nodes/vk/status")) == 3
    assert not any("leases" in r.path for r in kube.requests)


async def test_notification_is_applied_at_once(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        await trio.sleep(5)
        update = node_object()
        update["status"]["conditions"].append({"type": "Extra", "status": "True"})
        update["metadata"]["labels"]["new"] = "label"
        controller.notify_node_status(update)
        controller.notify_node_status(update)  # collapses with the first
        await trio.sleep(1)
        assert "Extra" in conditions(kube)
        assert kube.objects[NODE_PATH]["metadata"]["labels"]["new"] == "label"
        assert len(kube.calls("patch", "/nodes/vk/status")) == 1
        # a notification without metadata keeps the labels
        controller.notify_node_status({"status": update["status"]})
        await trio.sleep(1)
        assert kube.objects[NODE_PATH]["metadata"]["labels"]["new"] == "label"
    assert controller.statistics().notifications == 3


async def test_mark_ready(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        assert conditions(kube)["Ready"]["status"] == "False"
        await trio.sleep(2)
        controller.mark_ready()
        await trio.sleep(0.1)
        ready = conditions(kube)["Ready"]
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True",
            "KubeletReady",
            "Kubelet is ready",
        )
        assert kube.objects[NODE_PATH]["status"]["phase"] == "Running"


def flaky_ping(failures: int) -> tuple[Callable[[], Awaitable[None]], list[float]]:
    calls: list[float] = []

    async def ping() -> None:
        calls.append(trio.current_time())
        if len(calls) <= failures:
            raise RuntimeError("backend unreachable")

    return ping, calls


async def test_failing_first_ping_registers_not_ready_and_keeps_trying(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    ping, calls = flaky_ping(failures=3)
    controller = NodeController(kube, node_object(), ping=ping, lease=True, now=WallClock())
    async with running(controller):
        ready = conditions(kube)["Ready"]
        assert ready["status"] == "False"
        assert ready["reason"] == PING_FAILED_REASON
        assert "backend unreachable" in ready["message"]
        await trio.sleep(25)
        assert LEASE_PATH not in kube.objects  # no lease while unhealthy
        await trio.sleep(5.5)  # the 4th ping (t=30) succeeds and the lease follows at once
        assert LEASE_PATH in kube.objects
        controller.mark_ready()
        await trio.sleep(0.1)
        assert conditions(kube)["Ready"]["status"] == "True"
    assert len(calls) >= 4
    assert controller.lease_controller is not None
    assert controller.lease_controller.statistics().skipped_unhealthy >= 3


async def test_deleted_node_is_registered_again(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        old_uid = kube.objects[NODE_PATH]["metadata"]["uid"]
        await trio.sleep(3)
        # someone deletes the Node; the garbage collector then removes its lease
        del kube.objects[NODE_PATH]
        del kube.objects[LEASE_PATH]
        await trio.sleep(10)  # the next lease renewal notices and wakes the status loop
        node = kube.objects[NODE_PATH]
        assert node["metadata"]["uid"] != old_uid
        await trio.sleep(10)
        owner = kube.objects[LEASE_PATH]["metadata"]["ownerReferences"][0]
        assert owner["uid"] == node["metadata"]["uid"]
    assert controller.statistics().registrations == 2


async def test_deleted_node_comes_back_through_the_watch_while_its_lease_stays(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())  # status every 60 s
    async with running(controller):
        old_uid = kube.objects[NODE_PATH]["metadata"]["uid"]
        await trio.sleep(3)
        await kube.delete(NODE_PATH)  # no garbage collector: the Lease stays
        await trio.sleep(0.5)  # far from the 60 s status tick and the 10 s lease renewal
        assert kube.objects[NODE_PATH]["metadata"]["uid"] != old_uid
        assert LEASE_PATH in kube.objects
    assert controller.statistics().registrations == 2


async def test_the_node_watch_survives_expiry_and_errors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    kube.fail_next("watch", Gone("too old", status_code=410))
    kube.fail_next("watch", InternalError("etcd hiccup", status_code=500))
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        await trio.sleep(5)  # 410: resync and watch afresh; 500: back off (1-1.2 s) and again
        assert len(kube.calls("watch", "/api/v1/nodes")) == 3
        await kube.delete(NODE_PATH)
        await trio.sleep(1)
        assert NODE_PATH in kube.objects
    assert controller.statistics().registrations == 2


async def test_status_conflicts_are_retried(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        kube.fail_next("patch", Conflict("changed", status_code=409))
        kube.fail_next("patch", Conflict("changed", status_code=409))
        await controller.update_status()
    assert len(kube.calls("patch", "/nodes/vk/status")) == 3
    assert controller.statistics().status_updates == 1


async def test_registration_refused_fails_run(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    kube.fail_next("get", Forbidden("nodes is forbidden", status_code=403))
    controller = NodeController(kube, node_object(), now=WallClock())
    with pytest.raises(Forbidden):
        await controller.run()


async def test_errors_in_the_loop_do_not_stop_it(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        kube.fail_next("get", Forbidden("flaky rbac", status_code=403), lambda p: p == NODE_PATH)
        await trio.sleep(61)
        assert controller.statistics().status_failures == 1
        await trio.sleep(60)
        assert controller.statistics().status_updates == 1


async def test_transient_registration_failures_back_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    unavailable = ServerTimeout("try later", status_code=504)
    for _ in range(3):
        kube.fail_next("get", unavailable, lambda p: p == NODE_PATH)
    controller = NodeController(kube, node_object(), now=WallClock())
    start = trio.current_time()
    async with running(controller):
        registered = trio.current_time() - start
    # REGISTER_BACKOFF: 0.5 s, then 1 s, then 2 s before the fourth attempt succeeds
    assert [REGISTER_BACKOFF.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert registered == pytest.approx(3.5)
    assert controller.statistics().registrations == 1
    assert NODE_PATH in kube.objects


async def test_registration_gives_up_after_five_transient_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    for _ in range(5):
        kube.fail_next("get", ServerTimeout("down", status_code=504), lambda p: p == NODE_PATH)
    controller = NodeController(kube, node_object(), now=WallClock())
    with pytest.raises(ServerTimeout):
        await controller.run()
    assert len(kube.calls("get", NODE_PATH)) == 5


async def test_failed_lease_renewals_back_off_within_the_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    start = trio.current_time()
    async with running(controller):
        assert controller.lease_controller is not None
        await trio.sleep(1)
        for _ in range(6):
            kube.fail_next("update", ServerTimeout("down", status_code=504))
        before = len(kube.calls("update", "leases"))
        # the regular renewal at t=10 fails, and so do five retries 0.2, 0.4, 0.8, 1.6 and 3.2 s
        # apart (t=16.2); the sixth retry comes 6.4 s later and succeeds
        await trio.sleep_until(start + 22.55)
        assert len(kube.calls("update", "leases")) - before == 6
        await trio.sleep_until(start + 22.65)
        assert len(kube.calls("update", "leases")) - before == 7
        assert controller.lease_controller.statistics().failures == 6
        renewed = controller.lease_controller.statistics().renewals
        await trio.sleep(10)  # back to the regular cadence
        assert controller.lease_controller.statistics().renewals == renewed + 1


async def test_lease_update_conflict_rereads_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        lease = controller.lease_controller
        assert lease is not None
        renewals = lease.statistics().renewals
        gets = len(kube.calls("get", "leases"))
        for _ in range(2):
            kube.fail_next("update", Conflict("changed", status_code=409))
        start = trio.current_time()
        await lease.sync()
        assert trio.current_time() == start  # conflicts are retried without waiting
        assert lease.statistics().renewals == renewals + 1
        assert len(kube.calls("get", "leases")) == gets + 2  # read again after each conflict
        for _ in range(5):
            kube.fail_next("update", Conflict("changed", status_code=409))
        await lease.sync()  # five conflicts in a row: this sync fails, the next one renews
        assert lease.statistics().failures == 1


async def test_status_conflicts_give_up_after_five_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        before = len(kube.calls("patch", "/nodes/vk/status"))
        for _ in range(5):
            kube.fail_next("patch", Conflict("changed", status_code=409))
        start = trio.current_time()
        with pytest.raises(Conflict):
            await controller.update_status()
        # four short waits of 10-11 ms between the five attempts (the one back-off helper)
        assert 0.04 <= trio.current_time() - start <= 0.045
    assert len(kube.calls("patch", "/nodes/vk/status")) - before == 5


async def test_a_2xx_that_is_not_json_does_not_stop_the_loop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    lease = controller._lease
    assert lease is not None
    async with running(controller):
        kube.fail_next("get", not_json_error(), lambda p: p == NODE_PATH)
        kube.fail_next("update", not_json_error(), lambda p: p == LEASE_PATH)
        await trio.sleep(61)
        assert controller.statistics().status_failures == 1
        assert lease.statistics().failures == 1
        renewals = lease.statistics().renewals
        await trio.sleep(60)
        assert controller.statistics().status_updates == 1
        assert lease.statistics().renewals > renewals


async def test_a_malformed_node_status_from_the_provider_does_not_stop_the_loop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    controller = NodeController(kube, node_object(), now=WallClock())
    async with running(controller):
        controller.notify_node_status({"status": "garbage"})
        await trio.sleep(1)
        assert controller.statistics().status_failures == 1
        good = node_object()
        good["status"]["conditions"][0]["message"] = "fine again"
        controller.notify_node_status(good)
        await trio.sleep(5)  # at least the back-off after the failure
        first = kube.objects[NODE_PATH]["status"]["conditions"][0]
        assert first["message"] == "fine again"


async def test_a_hung_ping_times_out_by_default(autojump_clock: trio.testing.MockClock) -> None:
    """Without a default ping timeout a provider that hangs kept the node Ready and its Lease
    renewed for ever."""
    kube = FakeKube()
    hung = trio.Event()

    async def ping() -> None:
        if hung.is_set():
            await trio.sleep_forever()

    controller = NodeController(kube, node_object(), ping=ping, now=WallClock())
    lease = controller.lease_controller
    assert lease is not None
    async with running(controller):
        controller.mark_ready()
        await trio.sleep(1)
        assert conditions(kube)["Ready"]["status"] == "True"
        hung.set()
        await trio.sleep(120)
        ready = conditions(kube)["Ready"]
        assert ready["status"] == "False"
        assert ready["reason"] == PING_FAILED_REASON
        assert "did not answer within 10s" in ready["message"]
        renewals = lease.statistics().renewals
        await trio.sleep(60)
        assert lease.statistics().renewals == renewals  # no renewals while the ping hangs
