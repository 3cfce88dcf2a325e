"""PrometheusMetricsProvider: client-go's metric names, the ``name`` label, on-scrape gauges."""

from __future__ import annotations

import threading

import pytest
import trio
import trio.testing
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest

from tests.queue.helpers import RecordingProvider
from vk_trio.queue import PrometheusMetricsProvider, RateLimitingQueue, WorkQueue
from vk_trio.queue._prometheus import DURATION_BUCKETS


def _value(registry: CollectorRegistry, metric: str, name: str) -> float | None:
    return registry.get_sample_value(metric, {"name": name})


async def test_metrics_are_exported_under_client_go_names(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = CollectorRegistry()
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        name="pods", metrics=PrometheusMetricsProvider(registry)
    )
    queue.add("a")
    queue.add("b")
    await trio.sleep(0.5)
    item = queue.get_nowait()
    await trio.sleep(2)
    queue.add_rate_limited("c")

    assert _value(registry, "workqueue_depth", "pods") == 1
    assert _value(registry, "workqueue_adds_total", "pods") == 2
    assert _value(registry, "workqueue_retries_total", "pods") == 1
    assert _value(registry, "workqueue_queue_duration_seconds_count", "pods") == 1
    assert _value(registry, "workqueue_queue_duration_seconds_sum", "pods") == 0.5
    assert _value(registry, "workqueue_unfinished_work_seconds", "pods") == 2
    assert _value(registry, "workqueue_longest_running_processor_seconds", "pods") == 2
    queue.done(item)
    assert _value(registry, "workqueue_work_duration_seconds_count", "pods") == 1
    assert _value(registry, "workqueue_work_duration_seconds_sum", "pods") == 2
    assert _value(registry, "workqueue_unfinished_work_seconds", "pods") == 0


def test_histograms_use_client_gos_buckets() -> None:
    registry = CollectorRegistry()
    queue: WorkQueue[str] = WorkQueue(name="b", metrics=PrometheusMetricsProvider(registry))
    text = generate_latest(registry).decode()
    assert queue.name == "b"  # alive while scraped (a collected queue's series are gone)
    for bound in ["1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "1.0", "10.0", "100.0"]:
        assert f'workqueue_queue_duration_seconds_bucket{{le="{bound}",name="b"}}' in text
    assert 'workqueue_work_duration_seconds_bucket{le="1000.0",name="b"}' in text


async def test_providers_on_one_registry_share_the_metric_families() -> None:
    registry = CollectorRegistry()
    first: WorkQueue[str] = WorkQueue(name="one", metrics=PrometheusMetricsProvider(registry))
    second: WorkQueue[str] = WorkQueue(name="two", metrics=PrometheusMetricsProvider(registry))
    first.add("x")
    second.add("x")
    second.add("y")
    assert _value(registry, "workqueue_adds_total", "one") == 1
    assert _value(registry, "workqueue_adds_total", "two") == 2


async def test_the_default_registry_is_used_when_none_is_given() -> None:
    queue: WorkQueue[str] = WorkQueue(
        name="default-registry-test", metrics=PrometheusMetricsProvider()
    )
    before = _value(REGISTRY, "workqueue_adds_total", "default-registry-test") or 0.0
    queue.add("x")
    assert _value(REGISTRY, "workqueue_adds_total", "default-registry-test") == before + 1
    assert PrometheusMetricsProvider() is not None  # a second one on the same registry is fine


@pytest.mark.parametrize("name", ["a", "with space"])
async def test_the_queue_name_is_the_name_label(name: str) -> None:
    registry = CollectorRegistry()
    queue: WorkQueue[str] = WorkQueue(name=name, metrics=PrometheusMetricsProvider(registry))
    queue.add("x")
    assert _value(registry, "workqueue_depth", name) == 1


def test_histogram_exposition_matches_prometheus_clients_own_histogram() -> None:
    values = [0.0, 5e-7, 1e-6, 2e-5, 0.001, 0.5, 1.0, 999.0, 1000.0, 5000.0]
    ours = CollectorRegistry()
    for value in values:
        PrometheusMetricsProvider(ours).new_latency_metric("h").observe(value)
    reference = CollectorRegistry()
    theirs = Histogram(
        "workqueue_queue_duration_seconds",
        "reference",
        ["name"],
        registry=reference,
        buckets=DURATION_BUCKETS,
    )
    for value in values:
        theirs.labels(name="h").observe(value)

    def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("le", "")): s.value
            for family in registry.collect()
            if family.name == "workqueue_queue_duration_seconds"
            for s in family.samples
            if not s.name.endswith("_created")
        }

    assert samples(ours) == samples(reference)


async def test_only_delaying_queues_export_a_retries_series() -> None:
    registry = CollectorRegistry()
    provider = PrometheusMetricsProvider(registry)
    plain = WorkQueue[str](name="plain", metrics=provider)
    limited = RateLimitingQueue[str](name="limited", metrics=provider)
    assert (plain.name, limited.name) == ("plain", "limited")  # both alive while scraped
    assert _value(registry, "workqueue_retries_total", "plain") is None
    assert _value(registry, "workqueue_retries_total", "limited") == 0
    assert _value(registry, "workqueue_depth", "plain") == 0


def test_a_scrape_from_another_thread_sees_the_values() -> None:
    registry = CollectorRegistry()
    queue: WorkQueue[str] = WorkQueue(name="t", metrics=PrometheusMetricsProvider(registry))
    texts: list[bytes] = []
    thread = threading.Thread(target=lambda: texts.append(generate_latest(registry)))
    thread.start()
    thread.join()
    assert queue.name == "t"  # alive while scraped (a collected queue's series are gone)
    assert b'workqueue_depth{name="t"} 0.0' in texts[0]
    assert b'workqueue_unfinished_work_seconds{name="t"} 0.0' in texts[0]


# ----------------------------------------------------------------------------- lifecycle


def _names(registry: CollectorRegistry, metric: str) -> list[dict[str, str]]:
    return [s.labels for family in registry.collect() for s in family.samples if s.name == metric]


@pytest.mark.parametrize("drain", [False, True])
async def test_series_are_unregistered_when_the_queue_shuts_down(drain: bool) -> None:
    registry = CollectorRegistry()
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        name="dynamic", metrics=PrometheusMetricsProvider(registry)
    )
    queue.add("x")
    assert _value(registry, "workqueue_adds_total", "dynamic") == 1
    if drain:
        await queue.shut_down_with_drain()
    else:
        queue.shut_down()
    text = generate_latest(registry).decode()
    assert 'name="dynamic"' not in text
    assert "# TYPE workqueue_depth gauge" in text  # the families stay, empty


async def test_dynamic_queues_leave_no_series_behind() -> None:
    registry = CollectorRegistry()
    provider = PrometheusMetricsProvider(registry)
    for index in range(50):
        queue: WorkQueue[int] = WorkQueue(name=f"job-{index}", metrics=provider)
        queue.add(index)
        assert queue.get_nowait() == index
        queue.done(index)
        queue.shut_down()
    survivor: WorkQueue[int] = WorkQueue(name="survivor", metrics=provider)
    assert [labels["name"] for labels in _names(registry, "workqueue_depth")] == ["survivor"]
    survivor.shut_down()
    assert _names(registry, "workqueue_depth") == []


def test_a_queue_collected_without_shutdown_unregisters_too() -> None:
    registry = CollectorRegistry()
    queue: WorkQueue[str] = WorkQueue(name="gone", metrics=PrometheusMetricsProvider(registry))
    assert _value(registry, "workqueue_depth", "gone") == 0
    del queue  # no reference cycles: CPython frees it at once
    assert _value(registry, "workqueue_depth", "gone") is None
    # ... and the name is free again.
    again: WorkQueue[str] = WorkQueue(name="gone", metrics=PrometheusMetricsProvider(registry))
    assert _value(registry, "workqueue_depth", "gone") == 0
    assert again.name == "gone"


async def test_a_second_live_queue_with_the_same_name_is_an_error() -> None:
    registry = CollectorRegistry()
    first: WorkQueue[str] = WorkQueue(name="dup", metrics=PrometheusMetricsProvider(registry))
    with pytest.raises(ValueError, match="a live queue named 'dup' already exports metrics"):
        WorkQueue[str](name="dup", metrics=PrometheusMetricsProvider(registry))
    first.add("x")
    assert _value(registry, "workqueue_adds_total", "dup") == 1  # the first one is untouched
    first.shut_down()
    second: RateLimitingQueue[str] = RateLimitingQueue(
        name="dup", metrics=PrometheusMetricsProvider(registry)
    )
    assert _value(registry, "workqueue_adds_total", "dup") == 0  # fresh series, not merged
    assert _value(registry, "workqueue_retries_total", "dup") == 0
    assert second.name == "dup"


def test_the_same_name_on_different_registries_is_fine() -> None:
    one: WorkQueue[str] = WorkQueue(
        name="q", metrics=PrometheusMetricsProvider(CollectorRegistry())
    )
    two: WorkQueue[str] = WorkQueue(
        name="q", metrics=PrometheusMetricsProvider(CollectorRegistry())
    )
    assert one.name == two.name == "q"


async def test_const_labels_keep_two_nodes_apart_on_one_registry() -> None:
    registry = CollectorRegistry()
    queues: dict[str, list[RateLimitingQueue[str]]] = {}
    for node in ["vk-0", "vk-1"]:
        provider = PrometheusMetricsProvider(registry, const_labels={"node": node})
        assert provider.const_labels == {"node": node}
        queues[node] = [
            RateLimitingQueue[str](name=name, metrics=provider)
            for name in ["pod_sync", "pod_status", "pod_delete"]
        ]
    queues["vk-0"][0].add("a")
    queues["vk-1"][0].add("a")
    queues["vk-1"][0].add("b")
    get = registry.get_sample_value
    assert get("workqueue_adds_total", {"name": "pod_sync", "node": "vk-0"}) == 1
    assert get("workqueue_adds_total", {"name": "pod_sync", "node": "vk-1"}) == 2
    assert get("workqueue_retries_total", {"name": "pod_delete", "node": "vk-1"}) == 0
    assert (
        get(
            "workqueue_queue_duration_seconds_bucket",
            {"name": "pod_sync", "node": "vk-0", "le": "+Inf"},
        )
        == 0
    )
    assert len(_names(registry, "workqueue_depth")) == 6
    text = generate_latest(registry).decode()
    assert 'workqueue_depth{name="pod_status",node="vk-1"} 0.0' in text
    assert text.count("# TYPE workqueue_depth gauge") == 1
    # One node stops: only its series go.
    for queue in queues["vk-0"]:
        queue.shut_down()
    assert {labels["node"] for labels in _names(registry, "workqueue_depth")} == {"vk-1"}
    # The same name and labels again is a clash; the same name without labels is not.
    with pytest.raises(ValueError, match=r"constant labels \{'node': 'vk-1'\}"):
        WorkQueue[str](
            name="pod_sync",
            metrics=PrometheusMetricsProvider(registry, const_labels={"node": "vk-1"}),
        )
    plain: WorkQueue[str] = WorkQueue(name="pod_sync", metrics=PrometheusMetricsProvider(registry))
    assert get("workqueue_depth", {"name": "pod_sync"}) == 0
    assert plain.name == "pod_sync"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"name": "x"}, "reserved"),
        ({"le": "x"}, "reserved"),
        ({"__meta": "x"}, "reserved"),
        ({"1node": "x"}, "not a valid Prometheus label name"),
        ({"no-de": "x"}, "not a valid Prometheus label name"),
        ({"node": 1}, "must be a str"),
    ],
)
def test_bad_const_labels_are_a_clear_error(labels: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrometheusMetricsProvider(CollectorRegistry(), const_labels=labels)  # type: ignore[arg-type]


async def test_providers_without_unregister_keep_working() -> None:
    # A provider written against the original protocol (no unregister method).
    provider = RecordingProvider()
    queue: WorkQueue[str] = WorkQueue(name="old", metrics=provider)
    queue.add("x")
    queue.shut_down()
    assert provider.queues["old"].adds.value == 1
