"""``/stats/summary`` (stats/v1alpha1 JSON) and ``/metrics/resource`` (Prometheus text).

The summary is whatever the provider returns (typed :class:`~vk_trio.provider.Summary` or the
JSON-shaped mapping), serialised.  Resource metrics are written in the Prometheus text
exposition format 0.0.4 - families, samples and labels in the order the provider gave them,
numbers as Go writes them - because that is what metrics-server parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson

from vk_trio.provider import MetricFamily

from ..util import format_go_float

__all__ = ["PROMETHEUS_TEXT_CONTENT_TYPE", "MetricsEncodingError", "render_metric_families"]

PROMETHEUS_TEXT_CONTENT_TYPE = b"text/plain; version=0.0.4"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class MetricsEncodingError(ValueError):
    """A family cannot be written in the text format (bad name, label or type)."""


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metric_families(families: Iterable[MetricFamily]) -> bytes:
    """The text exposition of ``families``; :class:`MetricsEncodingError` if one is invalid."""
    lines: list[str] = []
    for family in families:
        if not _METRIC_NAME.fullmatch(family.name):
            raise MetricsEncodingError(f"invalid metric name {family.name!r}")
        if family.type not in ("counter", "gauge", "untyped"):
            raise MetricsEncodingError(f"unsupported metric type {family.type!r}")
        if family.help:
            lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in family.samples:
            labels = []
            for name, value in sample.labels:
                if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
                    raise MetricsEncodingError(
                        f"invalid label name {name!r} in metric {family.name!r}"
                    )
                labels.append(f'{name}="{_escape_label(value)}"')
            line = family.name
            if labels:
                line += "{" + ",".join(labels) + "}"
            line += " " + format_go_float(sample.value)
            if sample.timestamp_ms is not None:
                line += f" {sample.timestamp_ms}"
            lines.append(line)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def render_summary(summary: object) -> bytes:
    """JSON of a summary already normalised to a mapping."""
    return orjson.dumps(summary)
