"""Deletion, in all its forms: the provider's delete, the final API delete, and leaked pods.

* A pod gone from the API (deleted with grace 0, or a tombstone from a broken watch): the provider
  lets go of it, no events (:meth:`PodDeleter.delete_gone`).
* A pod being deleted gracefully: the provider is told at once (``ProviderDeleteSuccess`` /
  ``ProviderDeleteFailed``), and the final API delete is queued for the end of the grace period
  (:meth:`PodDeleter.delete_gracefully`); it comes sooner when the provider reports every container
  stopped (the status writer calls :meth:`PodDeleter.finish`).
* The final API delete (the delete queue's handler, :meth:`PodDeleter.final_delete`): grace 0 with
  a UID precondition, so a newer pod of the same name is never removed.
* A pod the provider deleted on its own (eviction): deleted in the API too
  (:meth:`PodDeleter.delete_evicted`).
* At start-up, before any worker runs: provider pods the API no longer has, matched by UID and
  not just by name, are deleted (:meth:`PodDeleter.delete_dangling`).

A provider that does not have the pod (``NotFoundError``) has nothing left to delete: that counts
as done everywhere, never as ``ProviderDeleteFailed``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final, final

import trio

from vk_trio import tracing
from vk_trio.provider import log_context
from vk_trio.queue import RateLimitingQueue
from vk_trio.util import Backoff, Now, parse_time, retry

from ._events import NORMAL, WARNING, EventSink
from ._kube import Conflict, KubeApi, NotFound, resource_path
from ._pod_state import DeleteKey, PodRegistry, copy_pod, meta_of, split_key
from ._podutil import is_running, pod_key
from ._provider_calls import ProviderCalls

__all__ = ["PodDeleter"]

logger = logging.getLogger("vk_trio.node.pods")

# start-up waits for this cleanup: a few quick attempts, then the pod is left (and logged)
_DANGLING_ATTEMPTS: Final = 3
_DANGLING_BACKOFF: Final = Backoff(0.5, factor=2.0)


def _always(_error: Exception) -> bool:
    return True  # a pod the provider does not have is not an error here (ProviderCalls)


@final
class PodDeleter:
    """Provider deletes, final API deletes and dangling-pod cleanup for one node."""

    def __init__(
        self,
        client: KubeApi,
        calls: ProviderCalls,
        registry: PodRegistry,
        events: EventSink,
        queue: RateLimitingQueue[DeleteKey],
        *,
        concurrency: int,
        now: Now,
    ) -> None:
        self._client = client
        self._calls = calls
        self._registry = registry
        self._events = events
        self.queue = queue
        self._trace = registry.delete_trace if tracing.enabled() else None
        self._concurrency = concurrency
        self._now = now
        self.dangling_deleted = 0

    # -- called by the sync worker -------------------------------------------------------
    async def delete_gone(self, key: str) -> None:
        """The pod is gone from the API: make sure the provider lets go of it too (no events)."""
        calls = self._calls
        if calls.poller is not None:
            calls.poller.forget(key)
        provider_pod = await calls.get_pod(*split_key(key))
        if provider_pod is None:
            return
        try:
            await calls.delete_pod(provider_pod, report=False)
        except Exception as exc:
            raise RuntimeError(f'failed to delete pod "{key}" in the provider: {exc}') from exc

    async def delete_gracefully(self, key: str, pod: dict[str, Any]) -> None:
        """Graceful deletion: tell the provider now, remove from the API when done."""
        try:
            await self._calls.delete_pod(copy_pod(pod))
        except Exception as exc:
            self._events.record(pod, WARNING, "ProviderDeleteFailed", str(exc))
            raise
        self._events.record(
            pod, NORMAL, "ProviderDeleteSuccess", "Delete pod in provider successfully"
        )
        meta = meta_of(pod)
        grace = float(meta.get("deletionGracePeriodSeconds") or 0)
        deadline = meta.get("deletionTimestamp")
        if deadline:
            # the deletion timestamp is the deadline; after a restart, only what is left of it
            remaining = (parse_time(str(deadline)) - self._now()).total_seconds()
            grace = min(grace, max(0.0, remaining))
        item = (key, str(meta.get("uid", "")))
        if self._trace is not None:
            self._trace.put(item)
        self.queue.add_after(item, grace)

    def finish(self, key: str, uid: str) -> None:
        """Nothing runs any more: queue the final API delete now."""
        if self._trace is not None:
            self._trace.put((key, uid))
        self.queue.add((key, uid))

    def forget(self, key: str, uid: str) -> None:
        """The pod is gone from the API: drop a final delete still waiting out its grace."""
        self.queue.forget((key, uid))

    # -- called by the status writer -----------------------------------------------------
    async def delete_evicted(self, pod: Mapping[str, Any], provider_pod: Mapping[str, Any]) -> None:
        """The provider deleted the pod on its own: delete it in the API too."""
        meta = meta_of(pod)
        provider_meta = meta_of(provider_pod)
        grace = provider_meta.get("deletionGracePeriodSeconds")
        if parse_time(str(provider_meta["deletionTimestamp"])) <= self._now():
            grace = 0
        uid = str(meta.get("uid", ""))
        path = resource_path("v1", "pods", namespace=meta.get("namespace"), name=meta.get("name"))
        with contextlib.suppress(NotFound, Conflict):
            await self._client.delete(path, grace_period_seconds=int(grace or 0), uid=uid or None)

    # -- the delete queue ----------------------------------------------------------------
    async def final_delete(self, item: DeleteKey) -> None:
        key, uid = item
        namespace, name = split_key(key)
        with log_context(namespace=namespace, pod=name):
            pod = self._registry.api.get(key)
            if pod is None:
                return
            if uid and meta_of(pod).get("uid") != uid:
                logger.warning("not deleting pod %s: the API has a different pod of that name", key)
                return
            if is_running(pod.get("status")):
                logger.info("deleting pod %s while the API still shows it running", key)
            path = resource_path("v1", "pods", namespace=namespace, name=name)
            with contextlib.suppress(NotFound, Conflict):
                await self._client.delete(path, grace_period_seconds=0, uid=uid or None)

    # -- start-up ------------------------------------------------------------------------
    async def delete_dangling(self) -> None:
        """Delete provider pods the API no longer has (matched by UID, not just by name)."""
        try:
            provider_pods = await self._calls.get_pods()
        except Exception as exc:
            logger.warning(
                "could not list the provider's pods, skipping dangling-pod cleanup: %s", exc
            )
            return
        dangling = [pod for pod in provider_pods if self._is_dangling(pod)]
        if not dangling:
            return
        limit = trio.CapacityLimiter(self._concurrency)
        async with trio.open_nursery() as nursery:
            for provider_pod in dangling:
                nursery.start_soon(self._delete_dangling_pod, provider_pod, limit)

    def _is_dangling(self, provider_pod: Mapping[str, Any]) -> bool:
        api_pod = self._registry.api.get(pod_key(provider_pod))
        if api_pod is None:
            return True
        provider_uid = meta_of(provider_pod).get("uid")
        return bool(provider_uid) and meta_of(api_pod).get("uid") not in (None, "", provider_uid)

    async def _delete_dangling_pod(
        self, provider_pod: dict[str, Any], limit: trio.CapacityLimiter
    ) -> None:
        async with limit:
            key = pod_key(provider_pod)
            try:
                await retry(
                    lambda: self._calls.delete_pod(copy_pod(provider_pod), report=False),
                    backoff=_DANGLING_BACKOFF,
                    retryable=_always,
                    max_attempts=_DANGLING_ATTEMPTS,
                )
            except Exception as exc:
                logger.warning("could not delete dangling pod %s: %s", key, exc)
                return
            self.dangling_deleted += 1
            logger.info("deleted leaked pod %s", key)
