"""A provider for unit tests: behaves like the mock provider and records every call."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import trio

from vk_trio.provider import NotFoundError, PodCallback


def key_of(pod: Mapping[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


def running_status(pod: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "phase": "Running",
        "hostIP": "1.2.3.4",
        "podIP": "5.6.7.8",
        "startTime": "2024-01-01T00:00:00Z",
        "conditions": [
            {"type": t, "status": "True"} for t in ("Initialized", "Ready", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
            }
            for c in pod["spec"]["containers"]
        ],
    }


def terminated_status(status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **status,
        "phase": "Succeeded",
        "reason": "MockProviderPodDeleted",
        "containerStatuses": [
            {
                **c,
                "ready": False,
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "MockProviderPodContainerDeleted",
                        "finishedAt": "2024-01-01T00:00:01Z",
                    }
                },
            }
            for c in status.get("containerStatuses") or []
        ],
    }


class PolledProvider:
    """No ``notify_pods``: the node polls it."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[str, list[BaseException]] = {}
        self.latency = 0.0
        self.notify_on_delete = True
        self.in_flight = 0

    def fail(self, method: str, *errors: BaseException) -> None:
        self.failures.setdefault(method, []).extend(errors)

    async def _enter(self, method: str, key: str) -> None:
        self.calls.append((method, key))
        self.in_flight += 1
        try:
            if self.latency:
                await trio.sleep(self.latency)
            else:
                await trio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def called(self, method: str) -> list[str]:
        return [key for m, key in self.calls if m == method]

    def _notify(self, pod: dict[str, Any]) -> None:
        pass

    async def create_pod(self, pod: Any) -> None:
        await self._enter("create_pod", key_of(pod))
        pod["status"] = running_status(pod)
        self.pods[key_of(pod)] = pod
        self._notify(copy.deepcopy(pod))

    async def update_pod(self, pod: Any) -> None:
        await self._enter("update_pod", key_of(pod))
        old = self.pods.get(key_of(pod))
        pod["status"] = (old or {}).get("status") or running_status(pod)
        self.pods[key_of(pod)] = pod
        self._notify(copy.deepcopy(pod))

    async def delete_pod(self, pod: Any) -> None:
        await self._enter("delete_pod", key_of(pod))
        stored = self.pods.pop(key_of(pod), None)
        if stored is None:
            raise NotFoundError("pod not found")
        if self.notify_on_delete:
            stored["status"] = terminated_status(stored["status"])
            self._notify(copy.deepcopy(stored))

    async def get_pod(self, namespace: str, name: str) -> Any:
        await self._enter("get_pod", f"{namespace}/{name}")
        pod = self.pods.get(f"{namespace}/{name}")
        if pod is None:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        return copy.deepcopy(pod)

    async def get_pod_status(self, namespace: str, name: str) -> Any:
        await self._enter("get_pod_status", f"{namespace}/{name}")
        pod = self.pods.get(f"{namespace}/{name}")
        if pod is None:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        status: dict[str, Any] = copy.deepcopy(pod["status"])
        return status

    async def get_pods(self) -> list[Any]:
        await self._enter("get_pods", "")
        return [copy.deepcopy(p) for p in self.pods.values()]


class FakeProvider(PolledProvider):
    """Pushes status changes like the mock provider."""

    def __init__(self) -> None:
        super().__init__()
        # untyped: tests notify hand-made dicts through it
        self.callback: Callable[[Any], None] | None = None

    def notify_pods(self, callback: PodCallback) -> None:
        self.callback = callback

    def _notify(self, pod: dict[str, Any]) -> None:
        if self.callback is not None:
            self.callback(pod)
