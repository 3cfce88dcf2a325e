"""Typed values for ``/stats/summary`` (kubelet ``stats/v1alpha1``) and ``/metrics/resource``.

These are what ``kubectl top`` and the metrics server end up reading.  A provider returns either the
typed :class:`Summary` or a dict of the same JSON shape; the kubelet API serialises it.  Resource
metrics are returned as :class:`MetricFamily` values that the kubelet API writes in the Prometheus
text format; label order is kept as given (clients read labels by position).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, final

import attrs

from ._converter import CONVERTER

__all__ = [
    "CPUStats",
    "ContainerStats",
    "MemoryStats",
    "MetricFamily",
    "MetricSample",
    "NodeStats",
    "PodReference",
    "PodStats",
    "Summary",
    "summary_to_dict",
]


@final
@attrs.frozen(kw_only=True)
class CPUStats:
    """CPU use at ``time``: instantaneous nano-cores and/or the cumulative core-nanoseconds."""

    time: datetime
    usage_nano_cores: int | None = None
    usage_core_nano_seconds: int | None = None


@final
@attrs.frozen(kw_only=True)
class MemoryStats:
    """Memory use at ``time`` in bytes (``working_set_bytes`` is what ``kubectl top`` shows)."""

    time: datetime
    available_bytes: int | None = None
    usage_bytes: int | None = None
    working_set_bytes: int | None = None
    rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None


@final
@attrs.frozen(kw_only=True)
class ContainerStats:
    """One container of a pod."""

    name: str
    start_time: datetime
    cpu: CPUStats | None = None
    memory: MemoryStats | None = None


@final
@attrs.frozen(kw_only=True)
class PodReference:
    """Which pod a :class:`PodStats` entry describes."""

    name: str
    namespace: str
    uid: str


@final
@attrs.frozen(kw_only=True)
class PodStats:
    """One pod; ``containers`` is always written, even when empty."""

    pod_ref: PodReference
    start_time: datetime
    containers: tuple[ContainerStats, ...] = attrs.field(factory=tuple)
    cpu: CPUStats | None = None
    memory: MemoryStats | None = None


@final
@attrs.frozen(kw_only=True)
class NodeStats:
    """The node as a whole."""

    node_name: str
    start_time: datetime
    cpu: CPUStats | None = None
    memory: MemoryStats | None = None


@final
@attrs.frozen(kw_only=True)
class Summary:
    """The ``/stats/summary`` document."""

    node: NodeStats
    pods: tuple[PodStats, ...] = attrs.field(factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``stats/v1alpha1`` JSON form."""
        result: dict[str, Any] = CONVERTER.unstructure(self)
        return result


def summary_to_dict(summary: Summary | Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a provider's summary (typed or a mapping) to the JSON shape."""
    if isinstance(summary, Summary):
        return summary.to_dict()
    return dict(summary)


@final
@attrs.frozen(kw_only=True)
class MetricSample:
    """One sample: ordered ``(label, value)`` pairs, the value, and an optional timestamp (ms)."""

    labels: tuple[tuple[str, str], ...] = ()
    value: float
    timestamp_ms: int | None = None


@final
@attrs.frozen(kw_only=True)
class MetricFamily:
    """A Prometheus metric family (one ``# TYPE`` block)."""

    name: str
    type: Literal["counter", "gauge", "untyped"]
    help: str = ""
    samples: tuple[MetricSample, ...] = ()
