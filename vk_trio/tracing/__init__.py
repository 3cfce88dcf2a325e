"""Tracing for vk-trio: a thin layer over OpenTelemetry that costs nothing when it is off.

The code of the node, the kubelet API and the informers calls only what is here. While no
tracer is installed (the default, ``--trace-exporter none``) nothing of OpenTelemetry is imported,
:func:`span` hands back one shared do-nothing context manager and :func:`enabled` is false, so
the hot paths pick their untraced variants at construction and never look again.
:func:`configure_otlp` (the command line) or :func:`install` (tests, embedders) turns it on.

The pod controller's queues carry keys only; the trace context of the event that queued a key
travels beside it in a :class:`Handoff` (the pod registry holds one per queue), so a worker's
span is the child of the event that caused it.
"""

from ._api import POD_NAME as POD_NAME
from ._api import POD_NAMESPACE as POD_NAMESPACE
from ._api import POD_UID as POD_UID
from ._api import Handoff as Handoff
from ._api import HandoffEntry as HandoffEntry
from ._api import LazyEvent as LazyEvent
from ._api import current_context as current_context
from ._api import enabled as enabled
from ._api import in_span as in_span
from ._api import install as install
from ._api import pod_attributes as pod_attributes
from ._api import queue_wait as queue_wait
from ._api import span as span
from ._api import uninstall as uninstall
from ._setup import DEFAULT_SERVICE_NAME as DEFAULT_SERVICE_NAME
from ._setup import TracingUnavailableError as TracingUnavailableError
from ._setup import configure_otlp as configure_otlp
from ._setup import parse_sample_rate as parse_sample_rate

__all__ = [
    "DEFAULT_SERVICE_NAME",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "Handoff",
    "HandoffEntry",
    "LazyEvent",
    "TracingUnavailableError",
    "configure_otlp",
    "current_context",
    "enabled",
    "in_span",
    "install",
    "parse_sample_rate",
    "pod_attributes",
    "queue_wait",
    "span",
    "uninstall",
]
