"""``--trace-exporter``: turn tracing on before anything that traces is built.

With ``none`` (the default) nothing happens and OpenTelemetry is never imported. With ``otlp``
the SDK is set up (:func:`vk_trio.tracing.configure_otlp`); when it is not installed, that is
one start-up error line naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable

from vk_trio import tracing

from ._errors import SettingsError
from ._settings import Settings

__all__ = ["start_tracing"]


def _nothing() -> None:
    pass


def start_tracing(settings: Settings) -> Callable[[], None]:
    """Install the configured tracer; returns what flushes and stops it at exit."""
    if settings.trace_exporter == "none":
        return _nothing
    attributes = {
        "nodeName": settings.node_name,
        "provider": settings.provider,
        "operatingSystem": settings.operating_system,
        **settings.trace_tags,
    }
    try:
        return tracing.configure_otlp(
            service_name=settings.trace_service_name,
            sample_rate=settings.trace_sample_rate,
            attributes=attributes,
        )
    except tracing.TracingUnavailableError as exc:
        raise SettingsError("--trace-exporter", str(exc)) from None
