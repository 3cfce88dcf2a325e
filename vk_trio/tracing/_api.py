"""The calls the rest of vk-trio makes: spans, pod attributes and context hand-offs.

One module-level variable, ``_tracer``, says whether tracing is on. It is ``None`` until
:func:`install` sets an OpenTelemetry tracer, and every function here checks it first: off, they
return at once without importing or allocating anything (:func:`span` returns one shared
``nullcontext``). OpenTelemetry's own context (a ``contextvars`` variable) makes a span current
inside one trio task and in the tasks it starts; across a queue, :class:`Handoff` carries it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = [
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "Handoff",
    "HandoffEntry",
    "LazyEvent",
    "current_context",
    "enabled",
    "in_span",
    "install",
    "pod_attributes",
    "queue_wait",
    "span",
    "uninstall",
]

POD_NAMESPACE: Final = "k8s.namespace.name"
POD_NAME: Final = "k8s.pod.name"
POD_UID: Final = "k8s.pod.uid"
"""Attribute names of a pod's identity (OpenTelemetry's Kubernetes semantic conventions)."""

INSTRUMENTATION_NAME: Final = "vk_trio"

_NOOP: Final = nullcontext()
"""The one context manager :func:`span` returns while tracing is off (``nullcontext`` is
re-entrant and reusable, so no object is made per call)."""

_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_otel: Any = None
"""``opentelemetry.trace`` and ``opentelemetry.context``, bound by :func:`install` (imported
only then: tracing off never loads OpenTelemetry)."""

K = TypeVar("K")


def enabled() -> bool:
    """Whether a tracer is installed. Hot paths ask once, when they are built."""
    return _tracer is not None


def install(provider: TracerProvider) -> None:
    """Trace through ``provider`` (an OpenTelemetry ``TracerProvider``) from now on.

    Components built before this call keep their untraced paths: install first, then build."""
    global _tracer, _provider, _otel  # noqa: PLW0603 - the one switch, see the module docstring
    from opentelemetry import context, trace  # noqa: PLC0415 - only once tracing is on

    _otel = _Otel(trace, context)
    _provider = provider
    _tracer = provider.get_tracer(INSTRUMENTATION_NAME)


def uninstall() -> TracerProvider | None:
    """Turn tracing off again; returns the provider that was installed (to shut it down)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    return provider


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    parent: Context | None = None,
    links: Sequence[Context] = (),
    kind: str = "internal",
    start_time: int | None = None,
) -> AbstractContextManager[Any]:
    """A span named ``name``, current inside the ``with`` block (the shared no-op when off).

    ``parent`` makes it the child of a context carried over a queue (default: the current
    span); ``links`` points at further contexts (events collapsed into one queue item).
    ``kind`` is ``internal``, ``server`` or ``client``. An exception escaping the block is
    recorded on the span and sets its status to error.
    """
    tracer = _tracer
    if tracer is None:
        return _NOOP
    trace = _otel.trace
    span_links = [trace.Link(trace.get_current_span(c).get_span_context()) for c in links]
    return tracer.start_as_current_span(
        name,
        context=parent,
        kind=_KINDS[kind],
        attributes=dict(attributes) if attributes else None,
        links=span_links or None,
        start_time=start_time,
    )


@final
class LazyEvent:
    """The span of one informer event, begun only if the event queues work (a resync that
    queues nothing leaves no span). Its context is what the queue hand-offs carry."""

    __slots__ = ("_attributes", "_context", "_name", "_span", "_start")

    def __init__(self, name: str, attributes: Mapping[str, Any]) -> None:
        self._name = name
        self._attributes = attributes
        self._start = time.time_ns()
        self._span: Any = None
        self._context: Context | None = None

    def context(self) -> Context | None:
        tracer = _tracer
        if tracer is None:
            return None
        if self._context is None:
            self._span = tracer.start_span(
                self._name, attributes=dict(self._attributes), start_time=self._start
            )
            self._context = _otel.trace.set_span_in_context(self._span)
        return self._context

    def end(self) -> None:
        if self._span is not None:
            self._span.end()


def current_context() -> Context | None:
    """The current OpenTelemetry context (``None`` while tracing is off)."""
    return None if _tracer is None else _otel.context.get_current()


def in_span() -> bool:
    """Whether a valid span is current (not only the empty root context)."""
    return _tracer is not None and bool(_otel.trace.get_current_span().get_span_context().is_valid)


def pod_attributes(pod: Mapping[str, Any] | None, key: str = "") -> dict[str, str]:
    """The pod's namespace, name and UID as span attributes (from ``key`` when ``pod`` is gone)."""
    meta: Mapping[str, Any] = (pod.get("metadata") or {}) if pod is not None else {}
    if meta:
        attributes = {
            POD_NAMESPACE: str(meta.get("namespace", "")),
            POD_NAME: str(meta.get("name", "")),
        }
        if meta.get("uid"):
            attributes[POD_UID] = str(meta["uid"])
        return attributes
    namespace, _, name = key.rpartition("/")
    return {POD_NAMESPACE: namespace, POD_NAME: name}


def queue_wait(name: str, entry: HandoffEntry | None, attributes: Mapping[str, Any]) -> None:
    """Record the time a key spent in a queue as a span from its hand-off until now, the child
    of the context that queued it."""
    tracer = _tracer
    if tracer is None or entry is None:
        return
    queued = tracer.start_span(
        name, context=entry.context, attributes=dict(attributes), start_time=entry.queued_at
    )
    queued.end()


@final
class HandoffEntry:
    """The context that queued a key, when, and the contexts of events folded into it."""

    __slots__ = ("context", "folded", "queued_at")

    def __init__(self, context: Context, queued_at: int) -> None:
        self.context = context
        self.queued_at = queued_at
        self.folded: list[Context] = []


@final
class Handoff(Generic[K]):
    """The trace context beside each key of a queue that carries keys only.

    :meth:`put` (where the key is queued) remembers the current context; :meth:`take` (in the
    worker) returns it. A key queued again before a worker took it keeps its first context
    (the queue deduplicates the same way) and links the later ones. Used only while tracing is
    on: the controllers pick their traced paths at construction.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[K, HandoffEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, context: Context | None = None) -> None:
        """Remember ``context`` (default: the current one) for ``key``."""
        if _tracer is None:
            return
        if context is None:
            context = _otel.context.get_current()
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = HandoffEntry(context, time.time_ns())
        elif len(entry.folded) < _MAX_LINKS:
            entry.folded.append(context)

    def take(self, key: K) -> HandoffEntry | None:
        return self._entries.pop(key, None)

    def peek(self, key: K) -> HandoffEntry | None:
        return self._entries.get(key)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)


_MAX_LINKS: Final = 16
"""Links kept per queued key: a pod updated a thousand times before a worker took it need not
carry a thousand links."""


@final
class _Otel:
    __slots__ = ("context", "trace")

    def __init__(self, trace: Any, context: Any) -> None:
        self.trace = trace
        self.context = context


class _Kinds(dict[str, Any]):
    """``"server"`` → ``SpanKind.SERVER``, resolved on first use (OpenTelemetry is not imported
    until tracing is on)."""

    def __missing__(self, name: str) -> Any:
        kind = self[name] = _otel.trace.SpanKind[name.upper()]
        return kind


_KINDS: Final = _Kinds()
