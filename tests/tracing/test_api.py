"""vk_trio.tracing's thin API: the shared no-op when off, hand-offs and links when on."""

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from vk_trio import tracing


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.install(provider)
    try:
        yield memory
    finally:
        assert tracing.uninstall() is provider
        provider.shutdown()


def test_off_is_one_shared_noop_and_hands_nothing_over() -> None:
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.span("b", {"k": "v"}, kind="server")
    with tracing.span("a") as span:
        assert span is None
    handoff: tracing.Handoff[str] = tracing.Handoff()
    handoff.put("ns/pod")
    assert len(handoff) == 0
    assert tracing.current_context() is None
    assert not tracing.in_span()


def test_a_handoff_parents_the_worker_and_links_folded_events(
    exporter: InMemorySpanExporter,
) -> None:
    handoff: tracing.Handoff[str] = tracing.Handoff()
    with tracing.span("first event"):
        assert tracing.in_span()
        handoff.put("ns/pod")
    with tracing.span("second event"):
        handoff.put("ns/pod")  # queued again before a worker took it: folded, linked
    entry = handoff.take("ns/pod")
    assert entry is not None and handoff.take("ns/pod") is None
    attributes = tracing.pod_attributes(None, "ns/pod")
    assert attributes == {tracing.POD_NAMESPACE: "ns", tracing.POD_NAME: "pod"}
    tracing.queue_wait("work.queue_wait", entry, attributes)
    with tracing.span("work", attributes, parent=entry.context, links=entry.folded):
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    first, second = spans["first event"], spans["second event"]
    work, wait = spans["work"], spans["work.queue_wait"]
    assert work.parent is not None and work.parent.span_id == first.context.span_id
    assert wait.parent is not None and wait.parent.span_id == first.context.span_id
    assert [link.context.span_id for link in work.links] == [second.context.span_id]
    assert wait.start_time is not None and first.start_time is not None
    assert first.start_time <= wait.start_time


def test_a_lazy_event_makes_a_span_only_when_asked(exporter: InMemorySpanExporter) -> None:
    quiet = tracing.LazyEvent("pod.event", {"event": "update"})
    quiet.end()
    busy = tracing.LazyEvent("pod.event", {"event": "add"})
    context = busy.context()
    assert context is not None and busy.context() is context
    busy.end()
    [span] = exporter.get_finished_spans()
    assert span.attributes == {"event": "add"}


def test_pod_attributes_from_the_pod() -> None:
    pod = {"metadata": {"namespace": "ns", "name": "web", "uid": "u-1"}}
    assert tracing.pod_attributes(pod, "ignored/key") == {
        tracing.POD_NAMESPACE: "ns",
        tracing.POD_NAME: "web",
        tracing.POD_UID: "u-1",
    }


@pytest.mark.parametrize(
    ("text", "rate"), [("always", 1.0), ("Never", 0.0), ("0", 0.0), ("7", 0.07), ("100", 1.0)]
)
def test_sample_rate_words_of_the_go_command(text: str, rate: float) -> None:
    assert tracing.parse_sample_rate(text) == rate
