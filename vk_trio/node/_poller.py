"""Status polling for providers that cannot push status changes (no ``notify_pods``).

Every ``interval`` seconds (5 s, as upstream) each non-terminal pod of the node is asked for with
``get_pod_status`` and the answer is fed to the same notification path a notifying provider uses.
A pod the provider does not know is reported ``Failed``/``NotFound`` (containers terminated with
exit code -137) unless it is young and not running yet (it may still be starting), or the node
itself deleted it. A pod deleted through :meth:`StatusPoller.delete_pod` is reported terminated at
once (``Succeeded``/``Terminated``), since no notification would tell us otherwise.

Differences from the Go version: the "deleted by us" set is cleared once the pod is gone from the
API by any path (the Go version leaks entries for pods removed via the informer or the dangling
cleanup, which then mask a later pod of the same name), and the terminal container state replaces
the running one instead of sitting next to it.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, cast, final

import trio

from vk_trio.provider import Pod, PodLifecycleHandler, is_not_found, pod_status_to_dict

from ._podutil import pod_key
from ._time import Now, format_time, parse_time, utc_now

__all__ = ["StatusPoller"]

logger = logging.getLogger("vk_trio.node.poller")

_YOUNG: Final = _dt.timedelta(minutes=1)
_TERMINAL = ("Succeeded", "Failed")


def _terminate_containers(
    status: Mapping[str, Any], reason: str, message: str, exit_code: int, now: str
) -> list[dict[str, Any]]:
    statuses: list[dict[str, Any]] = []
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "terminated" in state:
            statuses.append(dict(container))
            continue
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason,
            "message": message,
            "finishedAt": now,
        }
        running = state.get("running") or {}
        if running.get("startedAt"):
            terminated["startedAt"] = running["startedAt"]
        if container.get("containerID"):
            terminated["containerID"] = container["containerID"]
        statuses.append({**container, "ready": False, "state": {"terminated": terminated}})
    return statuses


@final
class StatusPoller:
    """Wraps a non-notifying provider: ``notify_pods`` + polling loop + a ``delete_pod`` wrapper."""

    def __init__(
        self,
        provider: PodLifecycleHandler,
        list_pods: Callable[[], list[dict[str, Any]]],
        *,
        interval: float = 5.0,
        now: Now = utc_now,
    ) -> None:
        self._provider = provider
        self._list_pods = list_pods
        self._interval = interval
        self._now = now
        self._callback: Callable[[dict[str, Any]], None] | None = None
        self._deleted: set[str] = set()
        self.passes = 0

    def notify_pods(self, callback: Callable[[dict[str, Any]], None]) -> None:
        self._callback = callback

    def forget(self, key: str) -> None:
        """The pod is gone from the API: stop treating it as deleted by us."""
        self._deleted.discard(key)

    async def delete_pod(self, pod: dict[str, Any]) -> None:
        """Delete in the provider, then report the pod terminated (nothing else will)."""
        key = pod_key(pod)
        self._deleted.add(key)
        try:
            await self._provider.delete_pod(cast("Pod", pod))
        except BaseException:
            self._deleted.discard(key)
            raise
        status: Mapping[str, Any] = pod.get("status") or {}
        if status.get("phase") in _TERMINAL:
            return
        stamp = format_time(self._now())
        terminated = {
            **status,
            "phase": "Succeeded",
            "reason": "Terminated",
            "containerStatuses": _terminate_containers(
                status,
                "Terminated",
                "Container was terminated. The exit code may not reflect the real exit code",
                0,
                stamp,
            ),
        }
        self._notify({**pod, "status": terminated})

    def _notify(self, pod: dict[str, Any]) -> None:
        if self._callback is not None:
            self._callback(pod)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            await self.poll_once()

    async def poll_once(self) -> None:
        """One pass over every non-terminal pod of the node."""
        self.passes += 1
        for pod in self._list_pods():
            status: Mapping[str, Any] = pod.get("status") or {}
            if status.get("phase") in _TERMINAL:
                continue
            meta = pod.get("metadata") or {}
            namespace, name = meta.get("namespace", ""), meta.get("name", "")
            try:
                reported = await self._provider.get_pod_status(namespace, name)
            except Exception as exc:
                if not is_not_found(exc):
                    logger.warning("could not get status of pod %s/%s: %s", namespace, name, exc)
                    continue
                reported = None
            if reported is not None:
                self._notify({**pod, "status": pod_status_to_dict(reported)})
                continue
            self._missing(pod, status)

    def _missing(self, pod: dict[str, Any], status: Mapping[str, Any]) -> None:
        key = pod_key(pod)
        if key in self._deleted:
            return
        created = (pod.get("metadata") or {}).get("creationTimestamp")
        now = self._now()
        if status.get("phase") != "Running" and (
            created is None or now - parse_time(created) <= _YOUNG
        ):
            return
        stamp = format_time(now)
        failed = {
            **status,
            "phase": "Failed",
            "reason": "NotFound",
            "message": "The pod status was not found and may have been deleted from the provider",
            "containerStatuses": _terminate_containers(
                status, "NotFound", "Container was not found and was likely deleted", -137, stamp
            ),
        }
        self._notify({**pod, "status": failed})
