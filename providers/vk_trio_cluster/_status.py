"""From a remote pod's status to the home pod's, and the statuses the provider makes up itself.

The remote status is taken as it is (phase, conditions, init/container statuses, podIP(s),
startTime, reason/message, QoS class) except for what describes the remote *node*: ``hostIP``
becomes the virtual node's address (the home cluster knows no other).  Restart counts include the
times the provider recreated a remote pod deleted behind its back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "REMOTE_POD_DELETED_REASON",
    "deleted_status",
    "home_status",
    "recreating_status",
]

REMOTE_POD_DELETED_REASON: Final = "RemotePodDeleted"
_CONTAINER_GROUPS: Final = ("initContainerStatuses", "containerStatuses")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def home_status(remote: Mapping[str, Any], *, host_ip: str, restarts: int = 0) -> dict[str, Any]:
    """The home pod's status for ``remote`` (a remote pod object)."""
    status = copy.deepcopy(dict(remote.get("status") or {}))
    status.pop("nominatedNodeName", None)
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    else:
        status.pop("hostIP", None)
        status.pop("hostIPs", None)
    if restarts:
        for group in _CONTAINER_GROUPS:
            for entry in status.get(group) or ():
                entry["restartCount"] = int(entry.get("restartCount") or 0) + restarts
    status.setdefault("phase", "Pending")
    return status


def _terminated(
    previous: Mapping[str, Any], pod: Mapping[str, Any], *, reason: str, exit_code: int
) -> list[dict[str, Any]]:
    known = {e.get("name"): e for e in previous.get("containerStatuses") or ()}
    now = _now()
    result = []
    for container in (pod.get("spec") or {}).get("containers") or ():
        entry = dict(known.get(container["name"]) or {"name": container["name"], "restartCount": 0})
        entry.setdefault("image", container.get("image", ""))
        entry.setdefault("imageID", "")
        terminated: dict[str, Any] = {"exitCode": exit_code, "reason": reason, "finishedAt": now}
        started = ((entry.get("state") or {}).get("running") or {}).get("startedAt")
        if started:
            terminated["startedAt"] = started
        entry.update(ready=False, started=False, state={"terminated": terminated})
        result.append(entry)
    return result


def deleted_status(
    previous: Mapping[str, Any], pod: Mapping[str, Any], *, phase: str, reason: str, message: str
) -> dict[str, Any]:
    """The final status of a pod whose remote pod is gone (``phase`` Succeeded or Failed)."""
    status = copy.deepcopy(dict(previous))
    status["phase"] = phase
    status["reason"] = reason
    status["message"] = message
    status["conditions"] = [
        c
        for c in status.get("conditions") or ()
        if c.get("type") not in ("Ready", "ContainersReady")
    ] + [
        {"type": "Ready", "status": "False", "reason": "PodCompleted"},
        {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"},
    ]
    exit_code = 0 if phase == "Succeeded" else 137
    status["containerStatuses"] = _terminated(previous, pod, reason=reason, exit_code=exit_code)
    return status


def recreating_status(
    previous: Mapping[str, Any], pod: Mapping[str, Any], *, restarts: int
) -> dict[str, Any]:
    """What the home pod shows while its deleted remote pod is being created again: not
    running, not ready, restart count up."""
    status = copy.deepcopy(dict(previous))
    status["phase"] = "Pending"
    status["conditions"] = [
        c
        for c in status.get("conditions") or ()
        if c.get("type") not in ("Ready", "ContainersReady")
    ] + [
        {"type": "Ready", "status": "False", "reason": REMOTE_POD_DELETED_REASON},
        {"type": "ContainersReady", "status": "False", "reason": REMOTE_POD_DELETED_REASON},
    ]
    entries = []
    for entry in _terminated(previous, pod, reason=REMOTE_POD_DELETED_REASON, exit_code=137):
        entry["lastState"] = entry.pop("state")
        entry["state"] = {"waiting": {"reason": REMOTE_POD_DELETED_REASON}}
        entry["restartCount"] = restarts
        entries.append(entry)
    status["containerStatuses"] = entries
    return status
