"""PrometheusMetricsProvider: client-go's metric names, the ``name`` label, on-scrape gauges."""

from __future__ import annotations

import threading

import pytest
import trio
import trio.testing
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest

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
    del queue
    text = generate_latest(registry).decode()
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
    WorkQueue[str](name="plain", metrics=provider)
    RateLimitingQueue[str](name="limited", metrics=provider)
    assert _value(registry, "workqueue_retries_total", "plain") is None
    assert _value(registry, "workqueue_retries_total", "limited") == 0
    assert _value(registry, "workqueue_depth", "plain") == 0


def test_a_scrape_from_another_thread_sees_the_values() -> None:
    registry = CollectorRegistry()
    queue: WorkQueue[str] = WorkQueue(name="t", metrics=PrometheusMetricsProvider(registry))
    del queue
    texts: list[bytes] = []
    thread = threading.Thread(target=lambda: texts.append(generate_latest(registry)))
    thread.start()
    thread.join()
    assert b'workqueue_depth{name="t"} 0.0' in texts[0]
    assert b'workqueue_unfinished_work_seconds{name="t"} 0.0' in texts[0]
