"""Running the process provider in the test's trio loop, with real processes."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import trio

from vk_trio.provider import NotFoundError, Pod
from vk_trio_process import ProcessConfig, ProcessProvider

JSON = dict[str, Any]


class Lookup:
    """The node's cache lookups, held in dicts the test fills."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], JSON] = {}
        self.secrets: dict[tuple[str, str], JSON] = {}

    def get_config_map(self, namespace: str, name: str) -> JSON | None:
        return self.config_maps.get((namespace, name))

    def get_secret(self, namespace: str, name: str) -> JSON | None:
        return self.secrets.get((namespace, name))

    def list_services(self, namespace: str | None = None) -> list[JSON]:
        return []

    def list_pods(self) -> list[JSON]:
        return []


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def container(name: str, *argv: str, **extra: Any) -> JSON:
    return {"name": name, "image": "host", "command": list(argv), **extra}


def pod(name: str, *containers: JSON, restart: str = "Always", **spec: Any) -> Pod:
    return cast(
        "Pod",
        {
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {"restartPolicy": restart, "containers": list(containers), **spec},
        },
    )


class Notifications:
    """Every pod the provider notified, with the trio time it came."""

    def __init__(self) -> None:
        self.pods: list[JSON] = []
        self.times: list[float] = []
        self._event = trio.Event()

    def __call__(self, pod: Pod) -> None:
        self.pods.append(cast("JSON", pod))
        self.times.append(trio.current_time())
        self._event.set()
        self._event = trio.Event()

    async def until(
        self, name: str, check: Callable[[JSON], bool], *, timeout: float = 90.0
    ) -> tuple[float, JSON]:
        """The first notified status of ``name`` (from now on) that passes ``check``; no
        polling, so a test under an autojumping clock jumps straight to the next change."""
        seen = len(self.pods)
        with trio.fail_after(timeout):
            while True:
                while seen < len(self.pods):
                    pod, at = self.pods[seen], self.times[seen]
                    seen += 1
                    if pod["metadata"]["name"] == name and check(pod["status"]):
                        return at, pod["status"]
                await self._event.wait()


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 90.0) -> Any:
    """Poll ``check`` until it returns something truthy (generous: a loaded 2-core machine)."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            last = await check()
            if last:
                return last
            await trio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def status_where(
    provider: ProcessProvider, name: str, check: Callable[[JSON], bool], *, timeout: float = 90.0
) -> JSON:
    async def probe() -> JSON | None:
        try:
            status = cast("JSON", await provider.get_pod_status("default", name))
        except NotFoundError:
            return None
        return status if check(status) else None

    result: JSON = await eventually(probe, timeout=timeout)
    return result


def container_status(status: JSON, name: str = "app") -> JSON:
    found: JSON = next(
        c
        for c in [*status.get("containerStatuses", ()), *status.get("initContainerStatuses", ())]
        if c["name"] == name
    )
    return found


async def delete_and_wait(provider: ProcessProvider, manifest: Pod) -> None:
    """Delete the pod and wait until its sandbox (and so every process) is gone."""
    await provider.delete_pod(manifest)
    sandbox = provider.pods_dir / manifest["metadata"]["uid"]

    async def gone() -> bool:
        await trio.lowlevel.checkpoint()
        return not sandbox.exists()

    await eventually(gone)


@asynccontextmanager
async def running_provider(
    state_dir: Path, *, isolation: str = "none", lookup: Lookup | None = None, **config: Any
) -> AsyncIterator[tuple[ProcessProvider, Notifications]]:
    """The provider running; every pod still there at the end is deleted (nothing left)."""
    provider = ProcessProvider(
        node_name="vk-process-test",
        config=ProcessConfig(state_dir=state_dir, isolation=isolation, **config),  # type: ignore[arg-type]
        resources=lookup or Lookup(),
    )
    notes = Notifications()
    provider.notify_pods(notes)
    async with trio.open_nursery() as nursery:
        await nursery.start(provider.run)
        try:
            yield provider, notes
        finally:
            with trio.CancelScope(shield=True):
                for handed_out in await provider.get_pods():
                    leftover = copy.deepcopy(handed_out)  # never modify what it handed out
                    leftover["spec"]["terminationGracePeriodSeconds"] = 0
                    await delete_and_wait(provider, leftover)
        nursery.cancel_scope.cancel()
