"""The sync worker: one pass of the sync queue brings the provider in step with one API pod.

The decision table (the Go version's, with our fixes; docs/node.md shows it as a table):

1. the API pod is gone → the provider lets go of it (no events);
2. being deleted and nothing running → final API delete at once;
3. unchanged since our last successful pass (ignoring resourceVersion and status) → nothing;
4. being deleted with containers running → the provider's delete, API delete later;
5. phase ``Succeeded``/``Failed`` → nothing (a terminal pod is never started again);
6. otherwise: resolve the environment (failure → events, ``CreateContainerConfigError`` on the
   status, retry), then ``create_pod`` if the provider has no such pod (or one with another UID),
   ``update_pod`` if its copy differs, nothing if it is the same.

A failed provider write records ``Provider{Create,Update}Failed``, marks the pod ``ProviderFailed``
(``Pending``) and raises, so the queue retries it with backoff. Invalid input
(``InvalidInputError``) is not retried, and only it makes a ``restartPolicy: Never`` pod
``Failed``: a transient error must not end a pod that would run on the next attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any, Final, final

import trio

from vk_trio.provider import InvalidInputError, is_invalid_input, log_context

from ._env import resolve_pod_env
from ._events import NORMAL, WARNING, EventSink
from ._kube import KubeApi
from ._metrics import PodControllerMetrics
from ._pod_deleter import PodDeleter
from ._pod_state import TERMINAL_PHASES, PodRegistry, copy_pod, meta_of, split_key
from ._pod_status import patch_pod_status
from ._podutil import is_running, pods_effectively_equal, pods_equal
from ._provider_calls import ProviderCalls
from ._resources import ClusterLookups

__all__ = ["ENV_FAILED_REASON", "PROVIDER_FAILED_REASON", "SyncWorker"]

logger = logging.getLogger("vk_trio.node.pods")

ENV_FAILED_REASON: Final = "CreateContainerConfigError"
PROVIDER_FAILED_REASON: Final = "ProviderFailed"


def _is_invalid(error: BaseException) -> bool:
    return is_invalid_input(error) or isinstance(error, InvalidInputError)


@final
class SyncWorker:
    """The sync queue's handler for one node's pods."""

    def __init__(
        self,
        client: KubeApi,
        calls: ProviderCalls,
        registry: PodRegistry,
        lookups: ClusterLookups,
        events: EventSink,
        *,
        deleter: PodDeleter,
        stopping: trio.Event,
        resolve_env: bool = True,
        node_allocatable: Mapping[str, str] | None = None,
        metrics: PodControllerMetrics | None = None,
    ) -> None:
        self._client = client
        self._calls = calls
        self._registry = registry
        self._lookups = lookups
        self._events = events
        self._deleter = deleter
        self._stopping = stopping
        self._resolve_env = resolve_env
        self._allocatable = dict(node_allocatable or {})
        self._metrics = metrics

    async def sync(self, key: str) -> None:
        if self._stopping.is_set():
            return  # shutting down: queued work is left for the next start (it re-syncs all)
        namespace, name = split_key(key)
        with (
            log_context(namespace=namespace, pod=name),
            self._metrics.time_sync() if self._metrics else nullcontext(),
        ):
            pod = self._registry.api.get(key)
            if pod is None:
                await self._deleter.delete_gone(key)
                return
            await self._sync_in_provider(key, pod)

    async def _sync_in_provider(self, key: str, pod: dict[str, Any]) -> None:
        meta = meta_of(pod)
        status: Mapping[str, Any] = pod.get("status") or {}
        if meta.get("deletionTimestamp") and not is_running(status):
            # nothing runs: remove from the API now; the provider hears of it via the Delete event
            self._deleter.finish(key, str(meta.get("uid", "")))
            return
        state = self._registry.known.get(key)
        if state is None:
            return
        if state.last_synced is not None and pods_effectively_equal(state.last_synced, pod):
            state.last_synced = pod  # the same: remember the cache's object (see resyncs)
            return
        if meta.get("deletionTimestamp"):
            await self._deleter.delete_gracefully(key, pod)
            state.last_synced = pod
            return
        if status.get("phase") in TERMINAL_PHASES:
            logger.warning('skipping sync of pod "%s" in "%s" phase', key, status.get("phase"))
            return
        await self._create_or_update(key, pod)
        state.last_synced = pod

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
        existing = await self._calls.get_pod(*split_key(key))
        if existing is not None:
            old_uid = meta_of(existing).get("uid")
            new_uid = meta_of(pod).get("uid")
            if old_uid and new_uid and old_uid != new_uid:
                # a stale pod of the same name (the API pod was replaced): drop it, create anew
                await self._deleter.delete_gone(key)
                existing = None
        if existing is None:
            await self._provider_write("create_pod", pod, for_provider)
        elif not pods_equal(existing, for_provider, sort_env=self._resolve_env):
            await self._provider_write("update_pod", pod, for_provider)

    async def _provider_write(
        self, method: str, pod: dict[str, Any], for_provider: dict[str, Any]
    ) -> None:
        create = method == "create_pod"
        verb = "Create" if create else "Update"
        call = self._calls.create_pod if create else self._calls.update_pod
        try:
            await call(copy_pod(for_provider))
        except Exception as exc:
            await self._report_provider_failure(pod, exc)
            self._events.record(pod, WARNING, f"Provider{verb}Failed", str(exc))
            if _is_invalid(exc):
                logger.warning("provider rejected pod as invalid, not retrying: %s", exc)
                return
            raise
        self._events.record(
            pod, NORMAL, f"Provider{verb}Success", f"{verb} pod in provider successfully"
        )

    async def _report_provider_failure(self, pod: Mapping[str, Any], error: BaseException) -> None:
        """Mark the pod ``ProviderFailed``. Only invalid input, which no retry can fix, fails a
        ``restartPolicy: Never`` pod for good; any other error leaves it ``Pending`` and retried
        (one transient backend error used to fail such a pod permanently)."""
        restart = (pod.get("spec") or {}).get("restartPolicy")
        terminal = restart == "Never" and _is_invalid(error)
        status = {
            "phase": "Failed" if terminal else "Pending",
            "reason": PROVIDER_FAILED_REASON,
            "message": str(error),
        }
        try:
            await patch_pod_status(self._client, pod, status)
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
            reason = {"reason": ENV_FAILED_REASON, "message": error}
            await patch_pod_status(self._client, pod, reason)
        except Exception as exc:
            logger.warning("could not record environment failure on the pod: %s", exc)
