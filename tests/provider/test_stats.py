"""Stats summary and metric family values."""

from datetime import UTC, datetime

from vk_trio.provider import (
    ContainerStats,
    CPUStats,
    MemoryStats,
    MetricFamily,
    MetricSample,
    NodeStats,
    PodReference,
    PodStats,
    Summary,
    summary_to_dict,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_summary_uses_stats_v1alpha1_field_names() -> None:
    cpu = CPUStats(time=T0, usage_nano_cores=5)
    memory = MemoryStats(time=T0, usage_bytes=7, working_set_bytes=6)
    summary = Summary(
        node=NodeStats(node_name="vk", start_time=T0, cpu=cpu),
        pods=(
            PodStats(
                pod_ref=PodReference(name="p", namespace="ns", uid="u"),
                start_time=T0,
                containers=(ContainerStats(name="c", start_time=T0, cpu=cpu, memory=memory),),
                cpu=cpu,
                memory=memory,
            ),
            PodStats(pod_ref=PodReference(name="q", namespace="ns", uid="v"), start_time=T0),
        ),
    )
    ts = "2024-01-01T00:00:00Z"
    assert summary_to_dict(summary) == {
        "node": {"nodeName": "vk", "startTime": ts, "cpu": {"time": ts, "usageNanoCores": 5}},
        "pods": [
            {
                "podRef": {"name": "p", "namespace": "ns", "uid": "u"},
                "startTime": ts,
                "containers": [
                    {
                        "name": "c",
                        "startTime": ts,
                        "cpu": {"time": ts, "usageNanoCores": 5},
                        "memory": {"time": ts, "usageBytes": 7, "workingSetBytes": 6},
                    }
                ],
                "cpu": {"time": ts, "usageNanoCores": 5},
                "memory": {"time": ts, "usageBytes": 7, "workingSetBytes": 6},
            },
            # containers is written even when empty (no omitempty in the kubelet type)
            {
                "podRef": {"name": "q", "namespace": "ns", "uid": "v"},
                "startTime": ts,
                "containers": [],
            },
        ],
    }


def test_summary_without_pods_still_lists_pods() -> None:
    assert Summary(node=NodeStats(node_name="n", start_time=T0)).to_dict()["pods"] == []


def test_summary_to_dict_copies_mappings() -> None:
    raw = {"node": {"nodeName": "n"}, "pods": []}
    assert summary_to_dict(raw) == raw
    assert summary_to_dict(raw) is not raw


def test_metric_family_keeps_label_order() -> None:
    sample = MetricSample(labels=(("NodeName", "n"), ("PodName", "p")), value=100.0)
    family = MetricFamily(name="pod_cpu_usage_seconds_total", type="counter", samples=(sample,))
    assert [k for k, _ in family.samples[0].labels] == ["NodeName", "PodName"]
    assert family.help == ""
    assert sample.timestamp_ms is None
