"""The span tree of one pod's life (create → Running → delete) through a node in-process,
against the real control plane, with an in-memory exporter."""

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tests._controlplane import ControlPlane
from vk_trio import tracing

from ._node_support import eventually, running_node
from .test_node_pods import running_pod


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()
        provider.shutdown()


def _of_pod(exporter: InMemorySpanExporter, uid: str) -> list[ReadableSpan]:
    return [  # every span this pod's work made carries its UID
        s for s in exporter.get_finished_spans() if (s.attributes or {}).get(tracing.POD_UID) == uid
    ]


def _named(spans: list[ReadableSpan], name: str, **attributes: Any) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.name == name and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
    ]


def _parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


async def test_one_pods_life_is_one_tree_per_event(
    controlplane: ControlPlane, namespace: str, spans: InMemorySpanExporter
) -> None:
    async with running_node(controlplane, "traced") as vk:
        await vk.create_pod(namespace, "web")
        pod = await running_pod(vk, namespace, "web")
        uid = pod["metadata"]["uid"]

        def every() -> list[ReadableSpan]:
            return list(spans.get_finished_spans())

        async def created() -> list[ReadableSpan] | None:
            mine = _of_pod(spans, uid)
            done = _named(mine, "pod.status_write") and _named(mine, "provider.create_pod")
            return mine if done else None

        mine = await eventually(created)
        [added] = _named(mine, "pod.event", event="add")
        assert added.attributes is not None
        assert added.attributes[tracing.POD_NAMESPACE] == namespace
        assert added.attributes[tracing.POD_NAME] == "web"
        # the queue hand-off: wait and sync are children of the event that queued the key
        syncs = [s for s in _named(mine, "pod.sync") if _parent_of(s, every()) is added]
        assert syncs, "no pod.sync under the add event"
        waits = [s for s in _named(mine, "pod.sync.queue_wait") if _parent_of(s, every()) is added]
        assert waits
        assert waits[0].start_time is not None and added.start_time is not None
        assert waits[0].start_time >= added.start_time
        [create] = _named(mine, "provider.create_pod")
        assert _parent_of(create, every()) in syncs
        # the provider's report became a status write in the same trace
        writes = _named(mine, "pod.status_write")
        assert any(w.context.trace_id == added.context.trace_id for w in writes)

        await vk.client.delete(vk.pod_path(namespace, "web"))

        async def deleted() -> list[ReadableSpan] | None:
            mine = _of_pod(spans, uid)
            done = _named(mine, "provider.delete_pod") and _named(mine, "pod.event", event="delete")
            return mine if done and await vk.pod(namespace, "web") is None else None

        mine = await eventually(deleted)
        [delete_call] = _named(mine, "provider.delete_pod")
        sync = _parent_of(delete_call, every())
        assert sync is not None and sync.name == "pod.sync"
        event = _parent_of(sync, every())
        assert event is not None and event.name == "pod.event"
        assert (event.attributes or {}).get("event") == "update"  # the deletionTimestamp
        finals = _named(mine, "pod.final_delete")
        # the final API delete: queued by the graceful delete's trace, across the delete queue
        assert any(f.context.trace_id == event.context.trace_id for f in finals)
