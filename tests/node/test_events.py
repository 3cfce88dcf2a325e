"""The event recorder: create-or-patch-count, ordering, bounds, retries."""

import datetime as dt
from typing import Any

import trio
import trio.testing

from vk_trio.node._events import EventRecorder
from vk_trio.node._kube import ApiConnectionError, Forbidden

from .badserver import not_json_error
from .fakekube import FakeKube

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"namespace": "ns", "name": "web", "uid": "u-1", "resourceVersion": "42"},
}
EVENTS = "/api/v1/namespaces/ns/events"


class Clock:
    def __init__(self) -> None:
        self.moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.moment


def events(kube: FakeKube) -> list[dict[str, Any]]:
    return [obj for path, obj in kube.objects.items() if path.startswith(EVENTS)]


async def run_until_written(recorder: EventRecorder, action: Any) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        action()
        recorder.close()


async def test_first_event_is_created_with_upstream_shape(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    recorder = EventRecorder(kube, component="vk/pod-controller", now=Clock())
    await run_until_written(
        recorder,
        lambda: recorder.record(
            POD, "Normal", "ProviderCreateSuccess", "Create pod in provider successfully"
        ),
    )
    [event] = events(kube)
    assert event["metadata"]["name"].startswith("web.")
    assert event["metadata"]["namespace"] == "ns"
    assert event["involvedObject"] == {
        "kind": "Pod",
        "namespace": "ns",
        "name": "web",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "42",
    }
    assert event["reason"] == "ProviderCreateSuccess"
    assert event["message"] == "Create pod in provider successfully"
    assert event["type"] == "Normal"
    assert event["source"] == {"component": "vk/pod-controller"}
    assert event["reportingComponent"] == "vk/pod-controller"
    assert event["count"] == 1
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2024-01-02T03:04:05Z"
    stats = recorder.statistics()
    assert (stats.recorded, stats.created, stats.patched, stats.pending) == (1, 1, 0, 0)


async def test_repeats_patch_the_count(autojump_clock: trio.testing.MockClock) -> None:
    kube = FakeKube()
    clock = Clock()
    recorder = EventRecorder(kube, component="c", now=clock, aggregation_window=600)
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        recorder.record(POD, "Warning", "MandatorySecretNotFound", 'secret "s" not found')
        await trio.sleep(1)
        clock.moment += dt.timedelta(seconds=30)
        recorder.record(POD, "Warning", "MandatorySecretNotFound", 'secret "s" not found')
        recorder.record(POD, "Warning", "MandatorySecretNotFound", 'secret "s" not found')
        await trio.sleep(1)
        # a different message is a different event
        recorder.record(POD, "Warning", "MandatorySecretNotFound", 'secret "t" not found')
        await trio.sleep(700)  # outside the window: a fresh event
        recorder.record(POD, "Warning", "MandatorySecretNotFound", 'secret "s" not found')
        recorder.close()
    by_message: dict[str, list[dict[str, Any]]] = {}
    for event in events(kube):
        by_message.setdefault(event["message"], []).append(event)
    first, fresh = sorted(
        by_message['secret "s" not found'], key=lambda e: e["count"], reverse=True
    )
    assert first["count"] == 3
    assert first["firstTimestamp"] == "2024-01-02T03:04:05Z"
    assert first["lastTimestamp"] == "2024-01-02T03:04:35Z"
    assert fresh["count"] == 1
    assert len(by_message['secret "t" not found']) == 1
    stats = recorder.statistics()
    assert (stats.created, stats.patched) == (3, 2)
    patches = kube.calls("patch")
    assert [p.body["count"] for p in patches] == [2, 3]
    assert all(p.patch_type == "MERGE" for p in patches)


async def test_full_buffer_drops_without_blocking() -> None:
    recorder = EventRecorder(FakeKube(), component="c", buffer=2, writers=1)
    for index in range(5):
        recorder.record(POD, "Normal", "R", f"m{index}")
    stats = recorder.statistics()
    assert (stats.recorded, stats.dropped, stats.pending) == (5, 3, 2)
    recorder.close()
    recorder.record(POD, "Normal", "R", "after close")
    assert recorder.statistics().dropped == 4


async def test_transient_errors_are_retried_and_others_are_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    kube.fail_next("create", ApiConnectionError("reset"))
    kube.fail_next("create", ApiConnectionError("reset again"))
    recorder = EventRecorder(kube, component="c", max_attempts=4)
    await run_until_written(recorder, lambda: recorder.record(POD, "Normal", "R", "retried"))
    assert len(events(kube)) == 1
    assert len(kube.calls("create")) == 3

    kube.fail_next("create", Forbidden("no", status_code=403))
    recorder = EventRecorder(kube, component="c")
    await run_until_written(recorder, lambda: recorder.record(POD, "Normal", "R", "forbidden"))
    assert recorder.statistics().failed == 1
    assert len(events(kube)) == 1


async def test_patch_of_an_expired_event_creates_a_new_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    recorder = EventRecorder(kube, component="c")
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        recorder.record(POD, "Normal", "R", "m")
        await trio.sleep(1)
        for path in [p for p in kube.objects if p.startswith(EVENTS)]:
            del kube.objects[path]  # the API server's TTL removed it
        recorder.record(POD, "Normal", "R", "m")
        await trio.sleep(1)
        recorder.record(POD, "Normal", "R", "m")
        recorder.close()
    [event] = events(kube)
    assert event["count"] == 3
    assert kube.calls("patch")[0].path.endswith(kube.calls("create")[0].body["metadata"]["name"])


async def test_events_for_one_object_keep_their_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    kube.latency = 0.01
    recorder = EventRecorder(kube, component="c", writers=4)

    def burst() -> None:
        for _ in range(10):
            recorder.record(POD, "Normal", "R", "same")

    await run_until_written(recorder, burst)
    assert [r.verb for r in kube.requests] == ["create"] + ["patch"] * 9
    [event] = events(kube)
    assert event["count"] == 10


async def test_namespace_defaults_for_cluster_objects(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    recorder = EventRecorder(kube, component="c", host="vk")
    node = {"kind": "Node", "metadata": {"name": "vk", "uid": "n-1"}}
    await run_until_written(recorder, lambda: recorder.record(node, "Normal", "Starting", "up"))
    [path] = kube.objects
    assert path.startswith("/api/v1/namespaces/default/events/vk.")
    event = kube.objects[path]
    assert event["source"] == {"component": "c", "host": "vk"}
    assert event["involvedObject"]["kind"] == "Node"


async def test_a_2xx_that_is_not_json_drops_one_event_not_the_writer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    kube.fail_next("create", not_json_error())
    recorder = EventRecorder(kube, component="c")

    def record_two() -> None:
        recorder.record(POD, "Normal", "First", "lost")
        recorder.record(POD, "Normal", "Second", "written")

    await run_until_written(recorder, record_two)
    assert recorder.statistics().failed == 1
    assert len(events(kube)) == 1  # the one that got the HTML was dropped, the other written
