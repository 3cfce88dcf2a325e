"""Turning tracing on: the OpenTelemetry SDK with its OTLP/HTTP (protobuf) exporter.

The SDK is an optional dependency (``pip install 'vk-trio[otlp]'``) imported here only, and only
when :func:`configure_otlp` runs. The exporter and the resource read the standard ``OTEL_*``
environment variables themselves (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT``,
``..._HEADERS``, ``..._TIMEOUT``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``); the
sampler is the command's ``--trace-sample-rate``, else ``OTEL_TRACES_SAMPLER`` (with
``OTEL_TRACES_SAMPLER_ARG``), else the Go command's default of one trace in 10,000. Spans leave
in batches from the SDK's own thread, so exporting never blocks the trio loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final

from ._api import install, uninstall

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "DEFAULT_SERVICE_NAME",
    "TracingUnavailableError",
    "configure_otlp",
    "parse_sample_rate",
]

DEFAULT_SERVICE_NAME: Final = "virtual-kubelet"
"""The Go command's default ``--trace-service-name``."""
DEFAULT_SAMPLE_RATE: Final = 1e-4
"""The Go command's default sampling (OpenCensus': one trace in 10,000)."""
FLUSH_TIMEOUT_MS: Final = 5000
"""How long shutting down waits for the last batch to leave."""


class TracingUnavailableError(RuntimeError):
    """The OpenTelemetry SDK or its OTLP exporter is not installed."""


def parse_sample_rate(text: str) -> float:
    """``--trace-sample-rate`` as the Go command reads it: ``always``, ``never`` or a whole
    percentage 0-100. Returns a probability; raises ``ValueError`` with the reason (the Go
    command silently ignores a percentage out of range; here it is an error)."""
    word = text.strip().lower()
    if word == "always":
        return 1.0
    if word == "never":
        return 0.0
    try:
        percent = int(word)
    except ValueError:
        raise ValueError(
            f'"{text}" is not a sample rate (use always, never or a percentage 0-100)'
        ) from None
    if not 0 <= percent <= 100:
        raise ValueError(f"the sample rate is a percentage from 0 to 100 (got {percent})")
    return percent / 100


def configure_otlp(
    *,
    service_name: str | None = None,
    sample_rate: float | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Callable[[], None]:
    """Install a tracer provider exporting over OTLP/HTTP; returns its shutdown (flushes).

    ``service_name`` (``--trace-service-name``) beats ``OTEL_SERVICE_NAME``, which beats
    ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``; without any, ``virtual-kubelet``.
    ``attributes`` (``--trace-tag``, node name, provider) are added to the resource.
    """
    # the SDK is imported here only, when asked for (an optional dependency)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: PLC0415
    except ImportError as exc:
        raise TracingUnavailableError(
            f"the OTLP trace exporter needs the OpenTelemetry SDK ({exc.name} is missing): "
            "install vk-trio[otlp]"
        ) from None
    resource = Resource.create(dict(attributes or {}))
    if service_name:
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    elif str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    sampler = None  # the SDK reads OTEL_TRACES_SAMPLER itself
    if sample_rate is not None:
        sampler = ParentBased(TraceIdRatioBased(sample_rate))
    elif not os.environ.get("OTEL_TRACES_SAMPLER"):
        sampler = ParentBased(TraceIdRatioBased(DEFAULT_SAMPLE_RATE))
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)

    def shutdown() -> None:
        uninstall()
        provider.force_flush(FLUSH_TIMEOUT_MS)
        provider.shutdown()

    return shutdown
