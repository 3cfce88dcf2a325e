"""The pod controller: keeps the provider in step with the pods bound to this node.

Three queues (``vk_trio.queue``), each with its own workers:

* **sync** (``ns/name``, N workers): fed by the pod informer; one pass follows the decision table
  of the Go version (see :meth:`PodController._sync`), calling the provider's create, update or
  delete;
* **status** (``ns/name``, M workers): fed by provider notifications (or the 5 s poll); writes the
  provider's status to ``pods/<name>/status`` as a merge patch, only when it differs;
* **delete** (``(ns/name, uid)``, N workers): the final API delete (grace 0, UID precondition),
  right away for a pod with nothing running, otherwise when the provider reports every container
  terminated, or at the end of the grace period at the latest.

Informer handlers and the provider's notification callback are plain functions that only update
in-memory state and enqueue keys. A pod's first enqueue is never rate-limited; backoff applies to
retries only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Final, Protocol, TypeVar, cast, final

import attrs
import orjson
import trio

from vk_trio.informers import DeletedFinalStateUnknown, HandlerRegistration
from vk_trio.provider import (
    InvalidInputError,
    Pod,
    PodLifecycleHandler,
    PodNotifier,
    is_invalid_input,
    is_not_found,
    log_context,
)
from vk_trio.queue import (
    MetricsProvider,
    RateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
    run_workers,
)

from ._env import resolve_pod_env
from ._events import NORMAL, WARNING
from ._kube import Conflict, KubeApi, NotFound, PatchType, resource_path
from ._metrics import PodControllerMetrics
from ._pod_state import PodState, StatusWrite
from ._podutil import (
    is_running,
    pod_key,
    pod_should_enqueue,
    pods_effectively_equal,
    pods_equal,
    semantically_equal,
)
from ._poller import StatusPoller
from ._resources import ClusterLookups
from ._status_patch import status_patch
from ._time import Now, parse_time, utc_now

__all__ = ["EventSink", "PodController", "PodControllerStatistics"]

logger = logging.getLogger("vk_trio.node.pods")

T = TypeVar("T")

_TERMINAL: Final = ("Succeeded", "Failed")
ENV_FAILED_REASON: Final = "CreateContainerConfigError"
PROVIDER_FAILED_REASON: Final = "ProviderFailed"

DeleteKey = tuple[str, str]  # ("ns/name", uid)


class EventSink(Protocol):
    """Where pod events go (an :class:`~vk_trio.node.EventRecorder`)."""

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


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


def _split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def _copy(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy for the provider to keep (cheaper through orjson than ``copy.deepcopy``)."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(pod))
    return copied


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    return meta


@final
class PodController:
    """Reconciles the node's pods with ``provider``. Start with ``nursery.start(ctrl.run)``;
    :meth:`stop` (or cancellation) ends it.
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
        now: Now = utc_now,
    ) -> None:
        if sync_workers < 1:
            raise ValueError("pod sync workers must be greater than 0")
        if status_workers < 1:
            raise ValueError("status workers must be greater than 0")
        self._client = client
        self._provider = provider
        self._lookups = lookups
        self._pods = lookups.pods.lister()
        self._events = events
        self._sync_workers = sync_workers
        self._status_workers = status_workers
        self._resolve_env = resolve_env
        self._allocatable = dict(node_allocatable or {})
        self._max_retries = max_retries
        self._metrics = metrics
        self._shutdown_timeout = shutdown_timeout
        self._now = now
        self._poller: StatusPoller | None = None
        if not isinstance(provider, PodNotifier):
            self._poller = StatusPoller(
                provider, self._pods.list, interval=status_poll_interval, now=now
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
        self._known: dict[str, PodState] = {}
        self._registration: HandlerRegistration | None = None
        self._ready = trio.Event()
        self._stop = trio.Event()
        self._status_writes = self._status_skipped = self._dangling = 0

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
            known_pods=len(self._known),
            sync_waiting=sync.waiting,
            sync_processing=sync.processing,
            status_waiting=status.waiting,
            status_processing=status.processing,
            delete_waiting=delete.waiting,
            delete_processing=delete.processing,
            status_writes=self._status_writes,
            status_skipped=self._status_skipped,
            dangling_deleted=self._dangling,
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
            notifier.notify_pods(self._on_provider_status)
            if not await self._lookups.wait_for_cache_sync():
                raise RuntimeError("failed to wait for caches to sync")
            self._registration = self._lookups.pods.add_event_handler(
                on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete
            )
            await self._delete_dangling_pods()
            sync_done = trio.Event()
            status_done = trio.Event()
            nursery.start_soon(
                self._workers, self.sync_queue, self._sync, self._sync_workers, sync_done
            )
            delete_done = trio.Event()
            nursery.start_soon(
                self._workers,
                self.delete_queue,
                self._final_delete,
                self._sync_workers,
                delete_done,
            )
            nursery.start_soon(
                self._workers,
                self.status_queue,
                self._sync_status,
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
        self._known.setdefault(key, PodState())
        self.sync_queue.add(key)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = pod_key(new)
        state = self._known.get(key)
        if state is None:  # the Go version panics here
            state = self._known[key] = PodState()
            self.sync_queue.add(key)
        if self._needs_status_write(new, state):
            self.status_queue.add(key)
        if pod_should_enqueue(old, new):
            self.sync_queue.add(key)
        else:
            self._share_with_cache(state, old, new)

    @staticmethod
    def _share_with_cache(state: PodState, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Point what we remember at the cache's newest object where it is the same, so a pod
        is not kept twice (our last synced version, the cache's current one): at 10,000 pods
        that is tens of megabytes."""
        if state.last_synced is old and pods_effectively_equal(old, new):
            state.last_synced = new
        written = state.last_write
        status = new.get("status")
        if written is not None and written.result is not status and written.result == status:
            state.last_write = attrs.evolve(written, result=status)

    def _on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        # A tombstone (deletion missed while disconnected) is handled like any delete, so the
        # provider hears about it; the Go version ignores it and leaks the provider's pod.
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else pod_key(pod)
        self._known.pop(key, None)
        self.sync_queue.add(key)
        self.delete_queue.forget((key, str(_meta(pod).get("uid", ""))))

    def _needs_status_write(self, api_pod: Mapping[str, Any], state: PodState) -> bool:
        """Whether someone else changed the status away from what the provider reports."""
        if state.provider_pod is None:
            return False
        api_status = api_pod.get("status") or {}
        if api_status.get("phase") in _TERMINAL:
            return False
        written = state.last_write
        if written is not None and semantically_equal(api_status, written.result):
            return False
        return status_patch(api_status, state.provider_pod.get("status") or {}) is not None

    # -- provider notifications (plain, never block) -------------------------------------
    def _on_provider_status(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        api_pod = self._pods.get(key)
        if api_pod is None:
            logger.debug("not recording status of %s: not a pod of this node", key)
            return
        uid = _meta(pod).get("uid")
        if uid and uid != _meta(api_pod).get("uid"):
            # about an earlier pod of the same name (e.g. a dangling one being deleted)
            logger.debug("not recording status of %s: it is about another pod (uid %s)", key, uid)
            return
        state = self._known.get(key)
        if state is None:
            state = self._known[key] = PodState()
        previous = state.provider_pod
        if (
            previous is not None
            # a plain comparison: a false "different" only costs a queue pass that writes nothing
            and previous.get("status") == pod.get("status")
            and _meta(previous).get("deletionTimestamp") == _meta(pod).get("deletionTimestamp")
        ):
            return  # nothing new: many notifications collapse into no write at all
        state.provider_pod = pod
        self.status_queue.add(key)

    # -- the sync queue ------------------------------------------------------------------
    def _provider_timer(self, method: str) -> AbstractContextManager[None]:
        return self._metrics.time_provider(method) if self._metrics else nullcontext()

    async def _provider_get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._provider_timer("get_pod"):
            try:
                return cast("dict[str, Any]", await self._provider.get_pod(namespace, name))
            except Exception as exc:
                if is_not_found(exc):
                    return None
                raise

    async def _provider_delete(self, pod: dict[str, Any]) -> None:
        with self._provider_timer("delete_pod"):
            if self._poller is not None:
                await self._poller.delete_pod(pod)
            else:
                await self._provider.delete_pod(cast("Pod", pod))

    async def _sync(self, key: str) -> None:
        if self._stop.is_set():
            return  # shutting down: queued work is left for the next start (it re-syncs all)
        namespace, name = _split_key(key)
        with (
            log_context(namespace=namespace, pod=name),
            self._metrics.time_sync() if self._metrics else nullcontext(),
        ):
            pod = self._pods.get(key)
            if pod is None:
                await self._delete_gone_pod(key, namespace, name)
                return
            await self._sync_in_provider(key, pod)

    async def _delete_gone_pod(self, key: str, namespace: str, name: str) -> None:
        """The pod is gone from the API: make sure the provider lets go of it too (no events)."""
        if self._poller is not None:
            self._poller.forget(key)
        provider_pod = await self._provider_get_pod(namespace, name)
        if provider_pod is None:
            return
        try:
            with self._provider_timer("delete_pod"):
                await self._provider.delete_pod(cast("Pod", provider_pod))
        except Exception as exc:
            if not is_not_found(exc):
                raise RuntimeError(f'failed to delete pod "{key}" in the provider: {exc}') from exc

    async def _sync_in_provider(self, key: str, pod: dict[str, Any]) -> None:
        meta = _meta(pod)
        status: Mapping[str, Any] = pod.get("status") or {}
        uid = str(meta.get("uid", ""))
        if meta.get("deletionTimestamp") and not is_running(status):
            # nothing runs: remove from the API now; the provider hears of it via the Delete event
            self.delete_queue.add((key, uid))
            return
        state = self._known.get(key)
        if state is None:
            return
        if state.last_synced is not None and pods_effectively_equal(state.last_synced, pod):
            return
        if meta.get("deletionTimestamp"):
            await self._delete_in_provider(key, pod)
            state.last_synced = pod
            return
        if status.get("phase") in _TERMINAL:
            logger.warning('skipping sync of pod "%s" in "%s" phase', key, status.get("phase"))
            return
        await self._create_or_update(key, pod)
        state.last_synced = pod

    async def _delete_in_provider(self, key: str, pod: dict[str, Any]) -> None:
        """Graceful deletion: tell the provider now, remove from the API when done."""
        try:
            await self._provider_delete(_copy(pod))
        except Exception as exc:
            self._events.record(pod, WARNING, "ProviderDeleteFailed", str(exc))
            if not is_not_found(exc):
                raise
        else:
            self._events.record(
                pod, NORMAL, "ProviderDeleteSuccess", "Delete pod in provider successfully"
            )
        meta = _meta(pod)
        grace = float(meta.get("deletionGracePeriodSeconds") or 0)
        deadline = meta.get("deletionTimestamp")
        if deadline:
            # the deletion timestamp is the deadline; after a restart, only what is left of it
            remaining = (parse_time(str(deadline)) - self._now()).total_seconds()
            grace = min(grace, max(0.0, remaining))
        self.delete_queue.add_after((key, str(meta.get("uid", ""))), grace)

    async def _create_or_update(self, key: str, pod: dict[str, Any]) -> None:
        for_provider = pod
        if self._resolve_env:
            result = resolve_pod_env(pod, self._lookups, node_allocatable=self._allocatable)
            for event in result.events:
                self._events.record(pod, event.type, event.reason, event.message)
            if result.pod is None:
                await self._report_env_failure(pod, result.error or "environment resolution failed")
                raise RuntimeError(result.error)
            for_provider = result.pod
        namespace, name = _split_key(key)
        existing = await self._provider_get_pod(namespace, name)
        if existing is not None:
            old_uid = _meta(existing).get("uid")
            new_uid = _meta(pod).get("uid")
            if old_uid and new_uid and old_uid != new_uid:
                # a stale pod of the same name (the API pod was replaced): drop it, create anew
                await self._delete_gone_pod(key, namespace, name)
                existing = None
        if existing is None:
            await self._provider_write("create_pod", pod, for_provider)
        elif not pods_equal(existing, for_provider, sort_env=self._resolve_env):
            await self._provider_write("update_pod", pod, for_provider)

    async def _provider_write(
        self, method: str, pod: dict[str, Any], for_provider: dict[str, Any]
    ) -> None:
        verb = "Create" if method == "create_pod" else "Update"
        call = self._provider.create_pod if method == "create_pod" else self._provider.update_pod
        try:
            with self._provider_timer(method):
                await call(cast("Pod", _copy(for_provider)))
        except Exception as exc:
            await self._report_provider_failure(pod, exc)
            self._events.record(pod, WARNING, f"Provider{verb}Failed", str(exc))
            if is_invalid_input(exc) or isinstance(exc, InvalidInputError):
                logger.warning("provider rejected pod as invalid, not retrying: %s", exc)
                return
            raise
        self._events.record(
            pod, NORMAL, f"Provider{verb}Success", f"{verb} pod in provider successfully"
        )

    async def _patch_status(
        self, pod: Mapping[str, Any], status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        meta = _meta(pod)
        path = resource_path(
            "v1",
            "pods",
            namespace=meta.get("namespace"),
            name=meta.get("name"),
            subresource="status",
        )
        try:
            return await self._client.patch(
                path, {"status": dict(status)}, patch_type=PatchType.MERGE
            )
        except NotFound:
            return None

    async def _report_provider_failure(self, pod: Mapping[str, Any], error: BaseException) -> None:
        restart = (pod.get("spec") or {}).get("restartPolicy")
        status = {
            "phase": "Failed" if restart == "Never" else "Pending",
            "reason": PROVIDER_FAILED_REASON,
            "message": str(error),
        }
        try:
            await self._patch_status(pod, status)
        except Exception as exc:
            logger.warning("could not mark pod as %s: %s", PROVIDER_FAILED_REASON, exc)

    async def _report_env_failure(self, pod: Mapping[str, Any], error: str) -> None:
        """Leave the reason on a pod that has not started (a running pod keeps its status)."""
        status: Mapping[str, Any] = pod.get("status") or {}
        if status.get("containerStatuses"):
            return
        if status.get("reason") == ENV_FAILED_REASON and status.get("message") == error:
            return
        try:
            await self._patch_status(pod, {"reason": ENV_FAILED_REASON, "message": error})
        except Exception as exc:
            logger.warning("could not record environment failure on the pod: %s", exc)

    # -- the status queue ----------------------------------------------------------------
    async def _sync_status(self, key: str) -> None:
        namespace, name = _split_key(key)
        with (
            log_context(namespace=namespace, pod=name),
            self._metrics.time_status() if self._metrics else nullcontext(),
        ):
            await self._write_status(key)

    async def _write_status(self, key: str) -> None:
        pod = self._pods.get(key)
        state = self._known.get(key)
        if pod is None or state is None or state.provider_pod is None:
            return
        meta = _meta(pod)
        api_status: Mapping[str, Any] = pod.get("status") or {}
        if api_status.get("phase") in _TERMINAL:
            return  # a pod terminal in the API is never written again
        provider_pod = state.provider_pod
        provider_status: dict[str, Any] = dict(provider_pod.get("status") or {})
        uid = str(meta.get("uid", ""))
        rv = str(meta.get("resourceVersion", ""))
        current: Mapping[str, Any] = api_status
        written = state.last_write
        if written is not None and written.uid == uid and written.rv_before == rv:
            current = written.result  # the cache has not caught up with our last write yet
        patch = None
        if not (
            written is not None
            and written.uid == uid
            and semantically_equal(written.desired, provider_status)
            and semantically_equal(written.result, current)
        ):
            patch = status_patch(current, provider_status)
        if patch is None:
            self._status_skipped += 1
            if self._metrics:
                self._metrics.count_status("skipped")
        else:
            result = await self._patch_status(pod, patch["status"])
            if result is None:
                return
            self._status_writes += 1
            if self._metrics:
                self._metrics.count_status("written")
            state.last_write = StatusWrite(uid, provider_status, result.get("status") or {}, rv)
        await self._after_status(key, pod, provider_pod, provider_status)

    async def _after_status(
        self,
        key: str,
        pod: Mapping[str, Any],
        provider_pod: Mapping[str, Any],
        provider_status: Mapping[str, Any],
    ) -> None:
        meta = _meta(pod)
        provider_meta = _meta(provider_pod)
        uid = str(meta.get("uid", ""))
        if meta.get("deletionTimestamp"):
            if not is_running(provider_status):
                # every container has stopped: no need to wait out the grace period
                self.delete_queue.add((key, uid))
            return
        deletion = provider_meta.get("deletionTimestamp")
        if deletion:
            # the provider deleted the pod on its own: delete it in the API too
            grace = provider_meta.get("deletionGracePeriodSeconds")
            if parse_time(str(deletion)) <= self._now():
                grace = 0
            path = resource_path(
                "v1", "pods", namespace=meta.get("namespace"), name=meta.get("name")
            )
            with contextlib.suppress(NotFound, Conflict):
                await self._client.delete(
                    path, grace_period_seconds=int(grace or 0), uid=uid or None
                )

    # -- the delete queue ----------------------------------------------------------------
    async def _final_delete(self, item: DeleteKey) -> None:
        key, uid = item
        namespace, name = _split_key(key)
        with log_context(namespace=namespace, pod=name):
            pod = self._pods.get(key)
            if pod is None:
                return
            if uid and _meta(pod).get("uid") != uid:
                logger.warning("not deleting pod %s: the API has a different pod of that name", key)
                return
            if is_running(pod.get("status")):
                logger.info("deleting pod %s while the API still shows it running", key)
            path = resource_path("v1", "pods", namespace=namespace, name=name)
            try:
                await self._client.delete(path, grace_period_seconds=0, uid=uid or None)
            except (NotFound, Conflict):
                return

    # -- start-up ------------------------------------------------------------------------
    async def _delete_dangling_pods(self) -> None:
        """Delete provider pods the API no longer has (matched by UID, not just by name)."""
        try:
            with self._provider_timer("get_pods"):
                provider_pods = cast("list[dict[str, Any]]", await self._provider.get_pods())
        except Exception as exc:
            logger.warning(
                "could not list the provider's pods, skipping dangling-pod cleanup: %s", exc
            )
            return
        dangling = []
        for provider_pod in provider_pods:
            key = pod_key(provider_pod)
            api_pod = self._pods.get(key)
            provider_uid = _meta(provider_pod).get("uid")
            if api_pod is None or (
                provider_uid and _meta(api_pod).get("uid") not in (None, "", provider_uid)
            ):
                dangling.append(provider_pod)
        if not dangling:
            return
        limit = trio.CapacityLimiter(self._sync_workers)

        async def delete(provider_pod: dict[str, Any]) -> None:
            async with limit:
                key = pod_key(provider_pod)
                for attempt in range(3):
                    try:
                        with self._provider_timer("delete_pod"):
                            await self._provider.delete_pod(cast("Pod", _copy(provider_pod)))
                    except Exception as exc:
                        if is_not_found(exc):
                            break
                        if attempt == 2:
                            logger.warning("could not delete dangling pod %s: %s", key, exc)
                            return
                        await trio.sleep(0.5 * 2**attempt)
                    else:
                        break
                self._dangling += 1
                logger.info("deleted leaked pod %s", key)

        async with trio.open_nursery() as nursery:
            for provider_pod in dangling:
                nursery.start_soon(delete, provider_pod)
