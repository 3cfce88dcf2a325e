"""The node Lease: the cheap heartbeat the cluster watches to decide a node is alive.

``kube-node-lease/<node>`` is renewed every ``renew_interval`` seconds (10 s by default: a quarter
of the 40 s duration) while the provider's ping is healthy. It carries an owner reference to the
Node so that the garbage collector removes it with the node.

Differences from the Go version: one sync at start (not two back to back), the holder identity and
duration are re-asserted on every renewal, the owner reference follows the Node's current UID (a
re-registered node gets its lease back rather than a lease the garbage collector keeps deleting),
and a failed renewal is retried with a short backoff (:data:`RENEW_BACKOFF`: 200 ms doubling, at
most 7 s, never later than the regular cadence) instead of sleeping twice per iteration.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, Final, final

import attrs
import trio

from vk_trio import tracing

from ..util import Backoff, Now, format_micro_time, retry, utc_now
from ._kube import AlreadyExists, Conflict, KubeApi, NotFound, resource_path
from ._ping import PingController

__all__ = ["LEASE_NAMESPACE", "RENEW_BACKOFF", "LeaseController", "LeaseStatistics"]

logger = logging.getLogger("vk_trio.node.lease")

LEASE_NAMESPACE: Final = "kube-node-lease"
RENEW_BACKOFF: Final = Backoff(0.2, factor=2.0, cap=7.0)
"""Waits between failed renewals (never longer than the renew interval itself)."""
_MAX_UPDATE_ATTEMPTS: Final = 5
_RACE_BACKOFF: Final = Backoff(0.0)
"""A Conflict means another writer won: read the lease again at once, up to 5 attempts."""


class _Outcome(enum.Enum):
    RENEWED = "renewed"
    UNHEALTHY = "unhealthy"
    FAILED = "failed"


@final
@attrs.frozen
class LeaseStatistics:
    renewals: int
    creations: int
    failures: int
    skipped_unhealthy: int


@final
class LeaseController:
    """Keeps ``kube-node-lease/<node_name>`` fresh.

    ``owner`` returns the Node's ``(name, uid)`` as last seen by the node controller (``None``
    before registration); ``on_lease_missing`` is called when the lease had to be re-created
    after it existed, which usually means the Node itself was deleted.
    """

    def __init__(
        self,
        client: KubeApi,
        node_name: str,
        *,
        owner: Callable[[], tuple[str, str] | None],
        ping: PingController | None = None,
        duration_seconds: int = 40,
        renew_interval: float | None = None,
        on_lease_missing: Callable[[], None] | None = None,
        now: Now = utc_now,
    ) -> None:
        if duration_seconds <= 0:
            raise ValueError("lease duration must be positive")
        interval = duration_seconds * 0.25 if renew_interval is None else renew_interval
        if interval <= 0 or interval >= duration_seconds:
            raise ValueError(
                f"lease renew interval ({interval:g}s) must be positive and shorter than the "
                f"lease duration ({duration_seconds}s)"
            )
        self._client = client
        self._name = node_name
        self._owner = owner
        self._ping = ping
        self._duration = duration_seconds
        self._interval = interval
        self._on_missing = on_lease_missing
        self._now = now
        self._lease: dict[str, Any] | None = None
        self._renewals = self._creations = self._failures = self._skipped = 0

    @property
    def renew_interval(self) -> float:
        return self._interval

    @property
    def path(self) -> str:
        return resource_path(
            "coordination.k8s.io/v1", "leases", namespace=LEASE_NAMESPACE, name=self._name
        )

    def statistics(self) -> LeaseStatistics:
        return LeaseStatistics(
            renewals=self._renewals,
            creations=self._creations,
            failures=self._failures,
            skipped_unhealthy=self._skipped,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Renew until cancelled: once at start, then ``renew_interval`` after each sync.

        Reports started after the first attempt, successful or not, so a lease exists when the
        node is announced ready unless the API refused it. While the provider is unhealthy the
        controller waits for the next ping result and renews as soon as it is healthy again.
        """
        failed_in_a_row = 0
        outcome = await self.sync()
        task_status.started()
        while True:
            if outcome is _Outcome.RENEWED:
                failed_in_a_row = 0
                await trio.sleep(self._interval)
            elif outcome is _Outcome.UNHEALTHY and self._ping is not None:
                await self._ping.wait_for_change()
            else:
                failed_in_a_row += 1
                await trio.sleep(min(RENEW_BACKOFF.delay(failed_in_a_row), self._interval))
            outcome = await self.sync()

    async def sync(self) -> _Outcome:
        """One renewal attempt (skipped while the provider's ping fails)."""
        if self._ping is not None:
            result = await self._ping.first_result()
            if not result.ok:
                self._skipped += 1
                logger.debug("provider ping failed, not renewing the lease: %s", result.error)
                return _Outcome.UNHEALTHY
        try:
            await self._renew()
        except Exception as exc:  # not only ApiError: e.g. a 2xx that is not JSON
            self._failures += 1
            logger.warning("could not renew lease %s/%s: %r", LEASE_NAMESPACE, self._name, exc)
            return _Outcome.FAILED
        return _Outcome.RENEWED

    def _desired(self, base: dict[str, Any] | None) -> dict[str, Any]:
        lease: dict[str, Any] = dict(base) if base is not None else {}
        meta = dict(lease.get("metadata") or {})
        meta["name"] = self._name
        meta["namespace"] = LEASE_NAMESPACE
        owner = self._owner()
        if owner is not None:
            name, uid = owner
            meta["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}
            ]
        lease["apiVersion"] = "coordination.k8s.io/v1"
        lease["kind"] = "Lease"
        lease["metadata"] = meta
        spec = dict(lease.get("spec") or {})
        spec["holderIdentity"] = self._name
        spec["leaseDurationSeconds"] = self._duration
        spec["renewTime"] = format_micro_time(self._now())
        lease["spec"] = spec
        return lease

    async def _renew(self) -> None:
        with tracing.span("node.lease_renew", {"k8s.node.name": self._name}):
            await self._renew_traced()

    async def _renew_traced(self) -> None:
        try:
            await retry(
                self._renew_once,
                backoff=_RACE_BACKOFF,
                retryable=lambda exc: isinstance(exc, Conflict),
                max_attempts=_MAX_UPDATE_ATTEMPTS,
            )
        except Conflict:
            raise Conflict(f"lease {self._name} kept changing under us", status_code=409) from None

    async def _renew_once(self) -> None:
        base = self._lease
        if base is None:
            try:
                base = await self._client.get(self.path)
            except NotFound:
                await self._create()
                return
        try:
            self._lease = await self._client.update(self.path, self._desired(base))
        except Conflict:
            self._lease = None  # someone else wrote it: the next attempt reads it again
            raise
        except NotFound:
            await self._create()
            return
        self._renewals += 1

    async def _create(self) -> None:
        collection = resource_path("coordination.k8s.io/v1", "leases", namespace=LEASE_NAMESPACE)
        existed = self._lease is not None
        try:
            self._lease = await self._client.create(collection, self._desired(None))
        except AlreadyExists:
            self._lease = None  # raced with another writer; the next sync reads and updates it
            raise
        self._creations += 1
        if existed and self._on_missing is not None:
            logger.info("lease %s/%s was gone and has been re-created", LEASE_NAMESPACE, self._name)
            self._on_missing()
