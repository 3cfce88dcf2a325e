"""The pod controller's traced paths, chosen at construction when tracing is on.

The trace of a pod's work: ``pod.event`` (the informer event, begun only if it queues work) →
``pod.sync.queue_wait`` and ``pod.sync`` (children of the event: the queue carries keys only,
the context travels beside the key in the registry's :class:`~vk_trio.tracing.Handoff`) →
``provider.<method>`` (child of the sync) → the provider's status report queues
``pod.status_write`` (child of whatever span the report came in, else of the last sync) →
``pod.final_delete``. A pass that fails and is retried puts its own context back, so the retry
is the child of the failed pass. With tracing off none of this runs: the controller registers
the plain handlers and workers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, final

from vk_trio import tracing

from ._pod_state import PodRegistry

__all__ = ["PodTracer"]

K = TypeVar("K")


@final
class PodTracer:
    """Wraps the controller's handlers, queue adds and workers with spans."""

    def __init__(self, registry: PodRegistry) -> None:
        self._registry = registry
        self._event: tracing.LazyEvent | None = None
        self._last_sync: dict[str, Any] = {}

    # -- informer handlers -------------------------------------------------------------
    def handler(self, name: str, plain: Callable[..., None]) -> Callable[..., None]:
        """``plain`` inside a ``pod.event`` span begun on its first queue add."""

        def traced(*objects: Any) -> None:
            pod = objects[-1]
            pod = getattr(pod, "obj", pod)  # a tombstone carries the last known pod
            event = self._event = tracing.LazyEvent(
                "pod.event", {"event": name, **tracing.pod_attributes(pod)}
            )
            try:
                plain(*objects)
            finally:
                self._event = None
                event.end()

        return traced

    def adder(self, handoff: tracing.Handoff[K], add: Callable[[K], None]) -> Callable[[K], None]:
        """``add`` (a queue's) that first hands the current trace context over with the key."""

        def traced_add(key: K) -> None:
            event = self._event
            context = event.context() if event is not None else None
            if context is None:
                context = self._current_or_last(key)
            handoff.put(key, context)
            add(key)

        return traced_add

    def _current_or_last(self, key: Any) -> Any:
        if tracing.in_span():
            return tracing.current_context()
        pod_key = key[0] if isinstance(key, tuple) else key
        return self._last_sync.get(pod_key)  # a report from the provider's own task

    # -- workers ---------------------------------------------------------------------------
    def worker(
        self,
        name: str,
        handoff: tracing.Handoff[K],
        handler: Callable[[K], Awaitable[None]],
    ) -> Callable[[K], Awaitable[None]]:
        """``handler`` inside a span that is the child of the context queued with the key."""
        registry = self._registry

        async def traced(item: K) -> None:
            key: str = item[0] if isinstance(item, tuple) else item  # type: ignore[assignment]
            entry = handoff.take(item)
            attributes = tracing.pod_attributes(registry.api.get(key), key)
            tracing.queue_wait(f"{name}.queue_wait", entry, attributes)
            parent = entry.context if entry is not None else None
            links = entry.folded if entry is not None else ()
            with tracing.span(name, attributes, parent=parent, links=links):
                current = tracing.current_context()
                if name == "pod.sync":
                    self._last_sync[key] = current
                try:
                    await handler(item)
                except BaseException:
                    handoff.put(item, current)  # the retry is the child of this pass
                    raise
                if name == "pod.sync" and key not in registry.known:
                    self._last_sync.pop(key, None)

        return traced
