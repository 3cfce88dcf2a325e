"""The node controller: registers the Node and keeps its status, Lease and health current.

It owns three tasks in one nursery: the ping controller (provider health), the lease controller
(``kube-node-lease/<node>``) and the status loop, which patches ``nodes/<name>/status`` with the
three-way strategic merge of :mod:`._node_status` every ``status_interval`` seconds (60 s with a
lease, the ping interval without) and whenever the provider notifies a new node status.

Differences from the Go version (docs/differences.md):

* a failing first ping does not fail start-up: the node is registered (or updated) with
  ``Ready=False`` (reason ``ProviderPingFailed``) and the controller keeps pinging; while pings
  fail, status patches keep saying NotReady and the lease is not renewed;
* a Node deleted while we run is registered again at once: the controller watches its own Node
  (``fieldSelector=metadata.name=<node>``) and a ``DELETED`` event wakes the status loop, which
  re-creates it (the Go version waits for the next status tick, up to 60 s, unless the lease was
  garbage-collected too; a Lease that survives, as without a garbage collector, hides the loss);
* a provider notification without labels/annotations keeps the current ones;
* notifications never block the provider: the latest one wins.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Final, Protocol, final

import attrs
import trio

from vk_trio import tracing
from vk_trio.informers import ListWatchClient
from vk_trio.kube import Gone

from ..util import Backoff, Now, format_time, retry, utc_now
from ._kube import ApiError, Conflict, KubeApi, NotFound, PatchType, is_transient, resource_path
from ._lease import LeaseController
from ._node_object import mark_node_ready
from ._node_status import node_status_patch, with_last_applied
from ._ping import PingController, PingResult

__all__ = ["PING_FAILED_REASON", "NodeApi", "NodeController", "NodeControllerStatistics"]

logger = logging.getLogger("vk_trio.node.node")

PING_FAILED_REASON: Final = "ProviderPingFailed"
REGISTER_BACKOFF: Final = Backoff(0.5, factor=2.0)
"""Waits between registration attempts that failed transiently (0.5, 1, 2, 4 s)."""
_REGISTER_ATTEMPTS: Final = 5
CONFLICT_BACKOFF: Final = Backoff(0.01, factor=1.0, jitter=0.1)
"""A status patch lost a race: read again after ~10 ms (jittered so racers spread out)."""
_CONFLICT_ATTEMPTS: Final = 5
_WATCH_TIMEOUT: Final = 300
"""Seconds a watch of the own Node asks the server to keep open before it is re-opened."""
_WATCH_REOPEN_DELAY: Final = 1.0
"""Pause before a watch the server ended normally is opened again."""
WATCH_BACKOFF: Final = Backoff(1.0, factor=2.0, cap=30.0, jitter=0.2)
"""Waits after failed watches of the own Node (1, 2, 4 ... 30 s, jittered)."""

# after a failed status update: wait before the next one (a flood of provider notifications
# must not turn a persistent failure into a busy loop)
_LOOP_BACKOFF: Final = Backoff(1.0, factor=2.0, cap=30.0, jitter=0.1)
DEFAULT_PING_TIMEOUT: Final = 10.0
"""A ping that has not answered by the next round (the default interval) counts as failed: a
hung provider makes the node NotReady and stops Lease renewals instead of renewing for ever."""


class NodeApi(KubeApi, ListWatchClient, Protocol):
    """What the node controller needs: the REST verbs and a watch (of its own Node)."""


async def _healthy() -> None:
    """The ping of a provider without a node-health capability: always healthy."""


@final
@attrs.frozen
class NodeControllerStatistics:
    status_updates: int
    status_failures: int
    registrations: int
    notifications: int


@final
class NodeController:
    """Registers ``node`` and keeps it fresh. ``node`` is the full object to create (labels,
    taints, status); after registration only its labels, annotations and status are patched."""

    def __init__(
        self,
        client: NodeApi,
        node: Mapping[str, Any],
        *,
        ping: Callable[[], Awaitable[None]] | None = None,
        ping_interval: float = 10.0,
        ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        status_interval: float = 60.0,
        lease: bool = True,
        lease_duration_seconds: int = 40,
        lease_renew_interval: float | None = None,
        now: Now = utc_now,
    ) -> None:
        self._client = client
        self._node: dict[str, Any] = copy.deepcopy(dict(node))
        self._name: str = self._node["metadata"]["name"]
        self._now = now
        self._ping = PingController(ping or _healthy, interval=ping_interval, timeout=ping_timeout)
        self._lease = (
            LeaseController(
                client,
                self._name,
                owner=self._owner,
                ping=self._ping,
                duration_seconds=lease_duration_seconds,
                renew_interval=lease_renew_interval,
                on_lease_missing=self._wake,
                now=now,
            )
            if lease
            else None
        )
        self._interval = status_interval if lease else ping_interval
        self._server_node: dict[str, Any] | None = None
        self._pending: dict[str, Any] | None = None
        self._wakeup = trio.Event()
        self._ready = trio.Event()
        self._updates = self._failures = self._registrations = self._notifications = 0

    # -- public --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def ping_controller(self) -> PingController:
        return self._ping

    @property
    def lease_controller(self) -> LeaseController | None:
        return self._lease

    @property
    def server_node(self) -> dict[str, Any] | None:
        """The Node as the API server returned it after our last successful write."""
        return self._server_node

    @property
    def ready(self) -> trio.Event:
        """Set once the node is registered and the loops run."""
        return self._ready

    def statistics(self) -> NodeControllerStatistics:
        return NodeControllerStatistics(
            status_updates=self._updates,
            status_failures=self._failures,
            registrations=self._registrations,
            notifications=self._notifications,
        )

    def notify_node_status(self, node: dict[str, Any]) -> None:
        """Provider callback: apply ``node``'s status (and labels/annotations if it has them).

        Never blocks: a notification that arrives while another is pending replaces it.
        """
        self._notifications += 1
        self._pending = node
        self._wake()

    def mark_ready(self) -> None:
        """Mark the node Ready (``KubeletReady``) and push that at once.

        For providers that do not manage node status themselves: the Go version's ready callback.
        """
        self._node = mark_node_ready(self._node, self._now())
        self._wake()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Register the node, start ping and lease, then keep the status fresh until cancelled.

        Registration errors that retrying cannot fix (forbidden, invalid) are raised; transient
        ones are retried a few times first.
        """
        failure: ApiError | None = None
        async with trio.open_nursery() as nursery:
            await nursery.start(self._ping.run)
            try:
                await self._register()
            except ApiError as exc:
                # raised below, outside the nursery, so callers see the API error itself
                failure = exc
                nursery.cancel_scope.cancel()
            else:
                if self._lease is not None:
                    await nursery.start(self._lease.run)
                nursery.start_soon(self._watch_own_node)
                self._ready.set()
                task_status.started()
                await self._loop()
        if failure is not None:
            raise failure

    # -- internals -----------------------------------------------------------------------
    def _owner(self) -> tuple[str, str] | None:
        if self._server_node is None:
            return None
        meta = self._server_node.get("metadata") or {}
        uid = meta.get("uid")
        return (self._name, uid) if uid else None

    def _wake(self) -> None:
        self._wakeup.set()

    async def _register(self) -> None:
        def log_retry(error: Exception, attempt: int, delay: float) -> None:
            logger.warning(
                "registering node %s failed (attempt %d), retrying in %.1fs: %s",
                self._name,
                attempt,
                delay,
                error,
            )

        await retry(
            self.update_status,
            backoff=REGISTER_BACKOFF,
            retryable=is_transient,
            max_attempts=_REGISTER_ATTEMPTS,
            on_retry=log_retry,
        )

    async def _watch_own_node(self) -> None:
        """Wake the status loop the moment our Node is deleted, so it is registered again.

        The first watch starts at the resourceVersion of our last write, so a deletion between
        that write and the watch is still seen; a re-opened one at the last event's. When that
        version is too old (410 Gone) the status loop is woken (it re-creates a missing Node)
        and the watch starts afresh. Errors back off up to 30 s. The status tick remains the
        fallback; this only makes re-registration immediate.
        """
        path = resource_path("v1", "nodes")
        selector = f"metadata.name={self._name}"
        meta = (self._server_node or {}).get("metadata") or {}
        version: str | None = meta.get("resourceVersion") or None
        failures = 0
        while True:
            try:
                async with self._client.watch(
                    path,
                    resource_version=version,
                    field_selector=selector,
                    timeout_seconds=_WATCH_TIMEOUT,
                    allow_bookmarks=False,
                ) as events:
                    async for event in events:
                        failures = 0
                        version = (event.object.get("metadata") or {}).get(
                            "resourceVersion"
                        ) or version
                        if event.type == "DELETED":
                            logger.warning("node %s was deleted: registering it again", self._name)
                            self._wake()
            except Gone:
                version = None
                self._wake()  # a status update re-creates the Node if it went meanwhile
            except ApiError as exc:
                failures += 1
                delay = WATCH_BACKOFF.delay(failures)
                logger.warning(
                    "watching node %s failed, retrying in %.1fs: %s", self._name, delay, exc
                )
                await trio.sleep(delay)
                continue
            # the server ended the watch (its timeout) or it expired: a new one, from `version`
            await trio.sleep(_WATCH_REOPEN_DELAY)

    async def _loop(self) -> None:
        """Keep the status fresh. Nothing a server or a provider sends ends this loop: any
        failure (an API error, a 2xx that is not JSON, a malformed node status from the
        provider) is logged and counted, and the next attempt waits a back-off first."""
        failures_in_a_row = 0
        not_before = -math.inf
        while True:
            with trio.move_on_after(self._interval):
                await self._wakeup.wait()
            await trio.sleep_until(not_before)  # after a failure: not sooner than its back-off
            self._wakeup = trio.Event()
            try:
                pending, self._pending = self._pending, None
                if pending is not None:
                    self._apply_notification(pending)
                await self.update_status()
            except Exception as exc:
                self._failures += 1
                failures_in_a_row += 1
                logger.warning("updating status of node %s failed: %r", self._name, exc)
                not_before = trio.current_time() + _LOOP_BACKOFF.delay(failures_in_a_row)
            else:
                failures_in_a_row = 0

    def _apply_notification(self, node: Mapping[str, Any]) -> None:
        if not isinstance(node, Mapping) or not isinstance(node.get("status", {}), Mapping):
            raise TypeError(f"the provider notified a malformed node: {node!r:.200}")
        if "status" in node:
            self._node["status"] = copy.deepcopy(node["status"])
        meta = node.get("metadata") or {}
        for field in ("labels", "annotations"):
            if meta.get(field) is not None:
                self._node.setdefault("metadata", {})[field] = dict(meta[field])

    def _desired(self, ping: PingResult) -> dict[str, Any]:
        desired = copy.deepcopy(self._node)
        stamp = format_time(self._now())
        conditions: list[dict[str, Any]] = desired.setdefault("status", {}).setdefault(
            "conditions", []
        )
        for condition in conditions:
            condition["lastHeartbeatTime"] = stamp
        if not ping.ok:
            message = f"provider ping failed: {ping.error}"
            for condition in conditions:
                if condition.get("type") == "Ready":
                    if condition.get("status") != "False":
                        condition["lastTransitionTime"] = stamp
                    condition.update(status="False", reason=PING_FAILED_REASON, message=message)
                    break
            else:
                conditions.append(
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": PING_FAILED_REASON,
                        "message": message,
                        "lastHeartbeatTime": stamp,
                        "lastTransitionTime": stamp,
                    }
                )
        return desired

    async def update_status(self) -> None:
        """One status update: read, three-way patch (retrying conflicts), or (re)create."""
        with tracing.span("node.status_update", {"k8s.node.name": self._name}):
            await self._update_status()

    async def _update_status(self) -> None:
        ping = await self._ping.first_result()
        desired = self._desired(ping)
        await retry(
            partial(self._patch_status, desired),
            backoff=CONFLICT_BACKOFF,
            retryable=lambda exc: isinstance(exc, Conflict),
            max_attempts=_CONFLICT_ATTEMPTS,
        )

    async def _patch_status(self, desired: dict[str, Any]) -> None:
        path = resource_path("v1", "nodes", name=self._name)
        try:
            current = await self._client.get(path)
        except NotFound:
            await self._create(desired)
            return
        patch = node_status_patch(desired, current)
        try:
            if patch:
                self._server_node = await self._client.patch(
                    f"{path}/status", patch, patch_type=PatchType.STRATEGIC
                )
            else:
                self._server_node = current
        except NotFound:
            await self._create(desired)
            return
        self._updates += 1

    async def _create(self, desired: dict[str, Any]) -> None:
        body = with_last_applied(copy.deepcopy(desired))
        meta = body.setdefault("metadata", {})
        for volatile in ("uid", "resourceVersion", "creationTimestamp", "managedFields"):
            meta.pop(volatile, None)
        first = self._registrations == 0 and self._server_node is None
        self._server_node = await self._client.create(resource_path("v1", "nodes"), body)
        self._registrations += 1
        if first:
            logger.info("registered node %s", self._name)
        else:
            logger.warning("node %s was missing and has been registered again", self._name)
