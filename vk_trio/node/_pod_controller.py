"""The pod controller: keeps the provider in step with the pods bound to this node.

This module only wires; each concept has a module of its own:

* ``_pod_state``: the :class:`~._pod_state.PodRegistry` the workers share (the API cache's view of
  each pod and our memory of it);
* ``_pod_sync``: the **sync** queue's worker (``ns/name``, N workers), fed by the pod informer,
  following the decision table of the Go version and calling the provider's create or update;
* ``_pod_status``: the **status** queue's writer (``ns/name``, M workers), fed by provider
  notifications (or the 5 s poll of ``_poller``); the status-echo rules live there;
* ``_pod_deleter``: the **delete** queue (``(ns/name, uid)``, N workers) with the final API
  delete, the provider's deletes, and the dangling-pod cleanup at start-up;
* ``_provider_calls``: the provider as the workers call it (timed, one meaning of not-found).
* ``_pod_tracing``: the traced variants of the handlers, queue adds and workers, chosen here once
  when tracing is on (the trace context of each queued key travels in the registry).

Informer handlers and the provider's notification callback are plain functions that only update
in-memory state and enqueue keys. A pod's first enqueue is never rate-limited; backoff applies to
retries only. An informer resync re-queues the pods the provider does not have as they are: those
whose create never succeeded or whose retries ran out (the Go version skips every unchanged pod
on a resync, so an item dropped after its last retry never came back).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar, final

import attrs
import trio

from vk_trio import tracing
from vk_trio.informers import DeletedFinalStateUnknown, HandlerRegistration
from vk_trio.provider import PodLifecycleHandler, PodNotifier
from vk_trio.queue import (
    MetricsProvider,
    RateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
    run_workers,
)
from vk_trio.util import Now, utc_now

from ._events import EventSink
from ._kube import KubeApi
from ._metrics import PodControllerMetrics
from ._pod_deleter import PodDeleter
from ._pod_state import (
    TERMINAL_PHASES,
    DeleteKey,
    PodRegistry,
    PodState,
    meta_of,
    share_with_cache,
)
from ._pod_status import StatusWriter
from ._pod_sync import ENV_FAILED_REASON, PROVIDER_FAILED_REASON, SyncWorker
from ._pod_tracing import PodTracer
from ._podutil import pod_key, pod_should_enqueue
from ._poller import StatusPoller
from ._provider_calls import ProviderCalls
from ._resources import ClusterLookups

__all__ = [
    "ENV_FAILED_REASON",
    "PROVIDER_FAILED_REASON",
    "EventSink",
    "PodController",
    "PodControllerStatistics",
]

logger = logging.getLogger("vk_trio.node.pods")

T = TypeVar("T")

DEFAULT_PROVIDER_TIMEOUT: Final = 120.0
"""Deadline of each provider lifecycle call, seconds (the kubelet's runtime request timeout)."""
DEFAULT_STATUS_POLL_TIMEOUT: Final = 10.0
"""Deadline of each ``get_pod_status`` of the poller: two poll intervals."""


@final
@attrs.frozen
class PodControllerStatistics:
    known_pods: int
    sync_waiting: int
    sync_processing: int
    status_waiting: int
    status_processing: int
    delete_waiting: int
    delete_processing: int
    status_writes: int
    status_skipped: int
    dangling_deleted: int


@final
class PodController:
    """Reconciles the node's pods with ``provider``. Start with ``nursery.start(ctrl.run)``;
    :meth:`stop` (or cancellation) ends it.

    ``provider_timeout`` bounds every provider lifecycle call (``None``: no bound); a call past
    it is cancelled and retried with back-off like any failure. ``status_poll_timeout`` bounds
    the poller's ``get_pod_status`` (providers without ``notify_pods``), which polls
    ``status_workers`` pods at a time.
    """

    def __init__(
        self,
        client: KubeApi,
        provider: PodLifecycleHandler,
        lookups: ClusterLookups,
        events: EventSink,
        *,
        sync_workers: int = 10,
        status_workers: int = 10,
        resolve_env: bool = True,
        node_allocatable: Mapping[str, str] | None = None,
        max_retries: int = 19,
        status_poll_interval: float = 5.0,
        rate_limiter: Callable[[], RateLimiter] = default_controller_rate_limiter,
        metrics: PodControllerMetrics | None = None,
        queue_metrics: MetricsProvider | None = None,
        shutdown_timeout: float = 10.0,
        provider_timeout: float | None = DEFAULT_PROVIDER_TIMEOUT,
        status_poll_timeout: float | None = DEFAULT_STATUS_POLL_TIMEOUT,
        now: Now = utc_now,
    ) -> None:
        if sync_workers < 1:
            raise ValueError("pod sync workers must be greater than 0")
        if status_workers < 1:
            raise ValueError("status workers must be greater than 0")
        self._provider = provider
        self._lookups = lookups
        self._sync_workers = sync_workers
        self._status_workers = status_workers
        self._max_retries = max_retries
        self._shutdown_timeout = shutdown_timeout
        self._registry = PodRegistry(lookups.pods.lister())
        self._poller: StatusPoller | None = None
        if not isinstance(provider, PodNotifier):
            self._poller = StatusPoller(
                provider,
                self._registry.api.list,
                interval=status_poll_interval,
                concurrency=status_workers,
                timeout=status_poll_timeout,
                now=now,
            )
        self.sync_queue: RateLimitingQueue[str] = RateLimitingQueue(
            rate_limiter(), name="pod_sync", metrics=queue_metrics
        )
        self.status_queue: RateLimitingQueue[str] = RateLimitingQueue(
            rate_limiter(), name="pod_status", metrics=queue_metrics
        )
        self.delete_queue: RateLimitingQueue[DeleteKey] = RateLimitingQueue(
            rate_limiter(), name="pod_delete", metrics=queue_metrics
        )
        self._stop = trio.Event()
        calls = ProviderCalls(
            provider, poller=self._poller, metrics=metrics, timeout=provider_timeout
        )
        self._deleter = PodDeleter(
            client,
            calls,
            self._registry,
            events,
            self.delete_queue,
            concurrency=sync_workers,
            now=now,
        )
        self._status = StatusWriter(
            client, self._registry, self.status_queue, self._deleter, metrics=metrics, now=now
        )
        self._sync = SyncWorker(
            client,
            calls,
            self._registry,
            lookups,
            events,
            deleter=self._deleter,
            stopping=self._stop,
            resolve_env=resolve_env,
            node_allocatable=node_allocatable,
            metrics=metrics,
        )
        self._registration: HandlerRegistration | None = None
        self._ready = trio.Event()
        # Plain handlers and workers, or their traced wrappers: chosen once, here, so tracing
        # off costs nothing per event (vk_trio.node._pod_tracing).
        self._add_sync: Callable[[str], None] = self.sync_queue.add
        self._add_status: Callable[[str], None] = self.status_queue.add
        self._handlers: dict[str, Callable[..., None]] = {
            "on_add": self._on_add,
            "on_update": self._on_update,
            "on_delete": self._on_delete,
        }
        self._sync_handler: Callable[[str], Awaitable[None]] = self._sync.sync
        self._status_handler: Callable[[str], Awaitable[None]] = self._status.sync
        self._delete_handler: Callable[[DeleteKey], Awaitable[None]] = self._deleter.final_delete
        if tracing.enabled():
            self._trace_paths()

    def _trace_paths(self) -> None:
        registry = self._registry
        tracer = PodTracer(registry)
        self._add_sync = tracer.adder(registry.sync_trace, self.sync_queue.add)
        self._add_status = tracer.adder(registry.status_trace, self.status_queue.add)
        self._status.enqueue = self._add_status
        self._handlers = {
            name: tracer.handler(name[3:], handler) for name, handler in self._handlers.items()
        }
        self._sync_handler = tracer.worker("pod.sync", registry.sync_trace, self._sync.sync)
        self._status_handler = tracer.worker(
            "pod.status_write", registry.status_trace, self._status.sync
        )
        self._delete_handler = tracer.worker(
            "pod.final_delete", registry.delete_trace, self._deleter.final_delete
        )

    # -- public --------------------------------------------------------------------------
    @property
    def ready(self) -> trio.Event:
        """Set once caches are synced, dangling pods are cleaned up and workers run."""
        return self._ready

    def statistics(self) -> PodControllerStatistics:
        sync, status, delete = (
            q.statistics() for q in (self.sync_queue, self.status_queue, self.delete_queue)
        )
        return PodControllerStatistics(
            known_pods=len(self._registry.known),
            sync_waiting=sync.waiting,
            sync_processing=sync.processing,
            status_waiting=status.waiting,
            status_processing=status.processing,
            delete_waiting=delete.waiting,
            delete_processing=delete.processing,
            status_writes=self._status.writes,
            status_skipped=self._status.skipped,
            dangling_deleted=self._deleter.dangling_deleted,
        )

    def stop(self) -> None:
        """Begin a graceful shutdown: take no new work, let in-flight provider calls finish
        (within ``shutdown_timeout``), flush pending status writes, then :meth:`run` returns."""
        self._stop.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            notifier: Any = self._provider
            if self._poller is not None:
                notifier = self._poller
                nursery.start_soon(self._poller.run)
            notifier.notify_pods(self._status.notify)
            if not await self._lookups.wait_for_cache_sync():
                raise RuntimeError("failed to wait for caches to sync")
            handlers = self._handlers
            self._registration = self._lookups.pods.add_event_handler(
                on_add=handlers["on_add"],
                on_update=handlers["on_update"],
                on_delete=handlers["on_delete"],
            )
            await self._deleter.delete_dangling()
            sync_done = trio.Event()
            delete_done = trio.Event()
            status_done = trio.Event()
            nursery.start_soon(
                self._workers, self.sync_queue, self._sync_handler, self._sync_workers, sync_done
            )
            nursery.start_soon(
                self._workers,
                self.delete_queue,
                self._delete_handler,
                self._sync_workers,
                delete_done,
            )
            nursery.start_soon(
                self._workers,
                self.status_queue,
                self._status_handler,
                self._status_workers,
                status_done,
            )
            self._ready.set()
            task_status.started()
            await self._stop.wait()
            await self._shut_down(sync_done, delete_done, status_done)
            nursery.cancel_scope.cancel()

    # -- shutdown ------------------------------------------------------------------------
    async def _shut_down(
        self, sync_done: trio.Event, delete_done: trio.Event, status_done: trio.Event
    ) -> None:
        logger.info("pod controller stopping: finishing in-flight work")
        if self._registration is not None:
            self._registration.remove()
        self.sync_queue.shut_down()
        self.delete_queue.shut_down()
        with trio.move_on_after(self._shutdown_timeout) as scope:
            await sync_done.wait()
            await delete_done.wait()
        if scope.cancelled_caught:
            logger.warning(
                "in-flight provider calls did not finish within %gs", self._shutdown_timeout
            )
        self.status_queue.shut_down()
        with trio.move_on_after(self._shutdown_timeout) as scope:
            await status_done.wait()
        if scope.cancelled_caught:
            logger.warning(
                "pending status writes were not flushed within %gs", self._shutdown_timeout
            )

    async def _workers(
        self,
        queue: RateLimitingQueue[T],
        handler: Callable[[T], Awaitable[None]],
        count: int,
        done: trio.Event,
    ) -> None:
        try:
            await run_workers(queue, handler, workers=count, max_retries=self._max_retries)
        finally:
            done.set()

    # -- informer handlers (plain, never block) ------------------------------------------
    def _on_add(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        known = self._registry.known
        if key not in known:
            known[key] = PodState()
        self._add_sync(key)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = pod_key(new)
        known = self._registry.known
        state = known.get(key)
        if state is None:  # the Go version panics here
            state = known[key] = PodState()
            self._add_sync(key)
        if self._status.needs_write(new, state):
            self._add_status(key)
        if pod_should_enqueue(old, new):
            self._add_sync(key)
        elif old is new:
            # a resync: a pod whose last successful pass is not this very object (its create
            # was never done, or its retries ran out) goes through the provider again, unless
            # it is still in its back-off (a resync must not undo the back-off of failing pods)
            if (
                state.last_synced is not new
                and (new.get("status") or {}).get("phase") not in TERMINAL_PHASES
                and not self.sync_queue.num_requeues(key)
            ):
                self._add_sync(key)
        else:
            share_with_cache(state, old, new)

    def _on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        # A tombstone (deletion missed while disconnected) is handled like any delete, so the
        # provider hears about it; the Go version ignores it and leaks the provider's pod.
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else pod_key(pod)
        self._registry.known.pop(key, None)
        self._add_sync(key)
        self._deleter.forget(key, str(meta_of(pod).get("uid", "")))
