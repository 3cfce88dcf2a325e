"""The status writer: the provider's pod status, written to ``pods/<name>/status`` when needed.

The provider reports a pod (its notification, or the poller's) → :meth:`StatusWriter.notify`
remembers the report and queues the key, unless nothing changed since the last report (many
notifications collapse into one queue pass) → a status worker runs :meth:`StatusWriter.write`,
which sends a strategic merge patch of the status only (``_status_patch``), and only when it
differs from what the API server has.

"What the API server has" is subtle, because our own write comes back to us twice: as the PATCH
response, and later as an informer update (the *echo*). Three rules keep the writes to one per
real change:

* **Our write wins over a stale cache.** While the cache still shows the resourceVersion it had
  when we wrote, it is older than our write: we compare against the PATCH response instead
  (``StatusWrite.rv_before``).
* **An unchanged report after an unchanged server is no write.** If the provider reports what we
  last wrote and the server still has what our write left, there is nothing to do, without even
  computing a patch.
* **Echoes are not changes.** An informer update whose status is what our last write left
  (:meth:`StatusWriter.needs_write`) queues nothing; an update where someone else changed the
  status away from the provider's queues a write that puts the provider's back.

A pod whose phase is terminal in the API is never written again (the kubelet's rule: a terminal
phase is final). After each pass, a pod being deleted whose containers have all stopped gets its
final API delete now instead of at the end of the grace period, and a pod the provider deleted on
its own is deleted in the API too (both through the :class:`~._pod_deleter.PodDeleter`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any, final

from vk_trio.provider import log_context
from vk_trio.queue import RateLimitingQueue
from vk_trio.util import Now, utc_now

from ._kube import KubeApi, NotFound, PatchType, resource_path
from ._metrics import PodControllerMetrics
from ._pod_conditions import readiness_gates
from ._pod_deleter import PodDeleter
from ._pod_state import TERMINAL_PHASES, PodRegistry, PodState, StatusWrite, meta_of, split_key
from ._podutil import is_running, pod_key, semantically_equal
from ._status_patch import status_patch

__all__ = ["StatusWriter", "patch_pod_status"]

logger = logging.getLogger("vk_trio.node.pods")


async def patch_pod_status(
    client: KubeApi, pod: Mapping[str, Any], status: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Strategic-merge-patch ``status`` into the pod's status subresource (conditions merge by
    type, so others' conditions survive); ``None`` if the pod is gone."""
    meta = meta_of(pod)
    path = resource_path(
        "v1", "pods", namespace=meta.get("namespace"), name=meta.get("name"), subresource="status"
    )
    try:
        return await client.patch(path, {"status": dict(status)}, patch_type=PatchType.STRATEGIC)
    except NotFound:
        return None


@final
class StatusWriter:
    """Writes provider status to the API for one node's pods (the status queue's handler)."""

    def __init__(
        self,
        client: KubeApi,
        registry: PodRegistry,
        queue: RateLimitingQueue[str],
        deleter: PodDeleter,
        *,
        metrics: PodControllerMetrics | None = None,
        now: Now = utc_now,
    ) -> None:
        self._client = client
        self._now = now
        self._registry = registry
        self.queue = queue
        self._deleter = deleter
        self._metrics = metrics
        self.writes = 0
        self.skipped = 0
        self.enqueue: Callable[[str], None] = queue.add
        """How a provider report queues its key (the pod controller's traced adder, if on)."""

    # -- plain handlers (never block) ----------------------------------------------------
    def needs_write(self, api_pod: Mapping[str, Any], state: PodState) -> bool:
        """Whether someone else changed the status away from what the provider reports (an
        informer update that is only the echo of our own write is not)."""
        if state.provider_pod is None:
            return False
        api_status = api_pod.get("status") or {}
        if api_status.get("phase") in TERMINAL_PHASES:
            return False
        written = state.last_write
        if written is not None and semantically_equal(api_status, written.result):
            return False
        provider_status = state.provider_pod.get("status") or {}
        gates = readiness_gates(api_pod)
        return status_patch(api_status, provider_status, gates, self._now) is not None

    def notify(self, pod: dict[str, Any]) -> None:
        """The provider's report of ``pod`` (its ``notify_pods`` callback).

        A malformed report (a pod or metadata that is not a mapping, a status that is not one)
        is dropped with a log: kept, it would break every later comparison in the informer
        handler for that pod. The checks cost nothing on the happy path (a ``try`` block, and a
        ``type() is dict`` test before the slow ABC one).
        """
        try:
            status = pod.get("status")
            if status is not None and type(status) is not dict and not isinstance(status, Mapping):
                raise TypeError(f"status is a {type(status).__name__}, not a mapping")
            key = pod_key(pod)
            api_pod = self._registry.api.get(key)
            if api_pod is None:
                logger.debug("not recording status of %s: not a pod of this node", key)
                return
            uid = meta_of(pod).get("uid")
        except Exception as exc:
            logger.warning(
                "ignoring a malformed pod notified by the provider (%s): %.200r", exc, pod
            )
            return
        if uid and uid != meta_of(api_pod).get("uid"):
            # about an earlier pod of the same name (e.g. a dangling one being deleted)
            logger.debug("not recording status of %s: it is about another pod (uid %s)", key, uid)
            return
        known = self._registry.known
        state = known.get(key)
        if state is None:
            state = known[key] = PodState()
        previous = state.provider_pod
        if (
            previous is not None
            # a plain comparison: a false "different" only costs a queue pass that writes nothing
            and previous.get("status") == status
            and meta_of(previous).get("deletionTimestamp") == meta_of(pod).get("deletionTimestamp")
        ):
            return  # nothing new: many notifications collapse into no write at all
        state.provider_pod = pod
        self.enqueue(key)

    # -- the status queue ----------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        with (
            log_context(namespace=namespace, pod=name),
            self._metrics.time_status() if self._metrics else nullcontext(),
        ):
            await self.write(key)

    async def write(self, key: str) -> None:
        """One pass: write the provider's status if the API's differs, then act on it."""
        pod = self._registry.api.get(key)
        state = self._registry.known.get(key)
        if pod is None or state is None or state.provider_pod is None:
            return
        meta = meta_of(pod)
        api_status: Mapping[str, Any] = pod.get("status") or {}
        if api_status.get("phase") in TERMINAL_PHASES:
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
            patch = status_patch(current, provider_status, readiness_gates(pod), self._now)
        if patch is None:
            self.skipped += 1
            if self._metrics:
                self._metrics.count_status("skipped")
        else:
            result = await patch_pod_status(self._client, pod, patch["status"])
            if result is None:
                return
            self.writes += 1
            if self._metrics:
                self._metrics.count_status("written")
            state.last_write = StatusWrite(uid, provider_status, result.get("status") or {}, rv)
        await self._after_write(key, pod, provider_pod, provider_status)

    async def _after_write(
        self,
        key: str,
        pod: Mapping[str, Any],
        provider_pod: Mapping[str, Any],
        provider_status: Mapping[str, Any],
    ) -> None:
        meta = meta_of(pod)
        if meta.get("deletionTimestamp"):
            if not is_running(provider_status):
                # every container has stopped: no need to wait out the grace period
                self._deleter.finish(key, str(meta.get("uid", "")))
            return
        if meta_of(provider_pod).get("deletionTimestamp"):
            await self._deleter.delete_evicted(pod, provider_pod)
