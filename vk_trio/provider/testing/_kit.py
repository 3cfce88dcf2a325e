"""The harness the conformance cases run in: one fresh provider, its notifications, and the
helpers every case needs (bounded waits, "is this pod known", the not-found convention)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, final

import trio

from .._converter import format_time
from .._errors import is_not_found
from .._protocols import PodLifecycleHandler, PodNotifier
from .._status import pod_status_to_dict
from ..types import Pod

if TYPE_CHECKING:
    from ._conformance import ProviderConformance

__all__ = ["Kit", "Notification"]


@final
class Notification:
    """One call of the notifier callback: the pod as handed over, a deep copy taken at the time
    (to prove the provider did not mutate it afterwards), and whether it came from the trio
    thread."""

    __slots__ = ("in_trio_thread", "pod", "snapshot")

    def __init__(self, pod: Pod) -> None:
        self.pod = pod
        self.snapshot = copy.deepcopy(pod)
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            self.in_trio_thread = False
        else:
            self.in_trio_thread = True


@final
class Kit:
    """What a case gets: the provider under test and helpers bound to its settings."""

    def __init__(
        self,
        provider: PodLifecycleHandler,
        *,
        make_pod: Callable[[str, str], Pod],
        namespace: str,
        timeout: float,
        concurrency: int,
        settings: ProviderConformance,
    ) -> None:
        self.provider = provider
        self.namespace = namespace
        self.timeout = timeout
        self.concurrency = concurrency
        self.settings = settings
        self._make_pod = make_pod
        self.notifications: list[Notification] = []
        self._changed = trio.Event()
        self.notifier = isinstance(provider, PodNotifier)
        self._prefix = f"kit-{uuid.uuid4().hex[:6]}"
        self._count = 0

    # -- pods -------------------------------------------------------------------------------

    def pod(self, label: str) -> Pod:
        """A fresh pod (unique name and UID) from the author's pod factory."""
        self._count += 1
        return self._make_pod(self.namespace, f"{self._prefix}-{label}-{self._count}")

    @staticmethod
    def name_of(pod: Pod) -> tuple[str, str]:
        meta = pod["metadata"]
        return meta.get("namespace", ""), meta["name"]

    def copy(self, pod: Pod) -> Pod:
        """What the node hands the provider: its own deep copy of the API's pod."""
        return copy.deepcopy(pod)

    def deleting(self, pod: Pod) -> Pod:
        """What the node hands ``delete_pod``: the pod as graceful deletion left it, with
        ``deletionTimestamp`` (now) and ``deletionGracePeriodSeconds`` (the pod's
        ``terminationGracePeriodSeconds``, 30 if unset, as the API server sets it)."""
        result = copy.deepcopy(pod)
        grace = result.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        result["metadata"]["deletionTimestamp"] = format_time(datetime.now(UTC))
        result["metadata"]["deletionGracePeriodSeconds"] = grace
        return result

    # -- notifications ----------------------------------------------------------------------

    def record(self, pod: Pod) -> None:
        """The callback given to ``notify_pods``: plain, non-blocking, as the node's."""
        self.notifications.append(Notification(pod))
        self._changed.set()
        self._changed = trio.Event()

    def notified(self, namespace: str, name: str) -> list[Notification]:
        found = []
        for entry in self.notifications:
            meta = entry.snapshot.get("metadata") or {}
            if meta.get("namespace") == namespace and meta.get("name") == name:
                found.append(entry)
        return found

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(self, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        """Poll ``check`` until it is true; fail naming ``what`` after the (generous) timeout."""
        delay = 0.01
        with trio.move_on_after(self.timeout) as scope:
            while not await check():
                await trio.sleep(delay)
                delay = min(delay * 2, 0.5)
            return
        if scope.cancelled_caught:
            raise AssertionError(f"timed out after {self.timeout:g} s waiting for {what}")

    async def wait_notified(self, what: str, check: Callable[[], bool]) -> None:
        """Wait until a notification makes ``check`` true (notifications wake the wait)."""
        with trio.move_on_after(self.timeout):
            while not check():
                await self._changed.wait()
            return
        raise AssertionError(f"timed out after {self.timeout:g} s waiting for {what}")

    # -- what the provider knows ------------------------------------------------------------

    async def known(self, namespace: str, name: str) -> bool:
        """``get_pod`` answers the pod (True) or raises ``NotFoundError`` (False)."""
        try:
            found = await self.provider.get_pod(namespace, name)
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        assert found is not None, (
            f"get_pod({namespace!r}, {name!r}) returned None: an unknown pod must raise "
            "NotFoundError"
        )
        meta = found.get("metadata") or {}
        assert (meta.get("namespace"), meta.get("name")) == (namespace, name), (
            f"get_pod({namespace!r}, {name!r}) returned the pod {meta.get('namespace')}/"
            f"{meta.get('name')}"
        )
        return True

    async def listed(self, namespace: str, name: str) -> bool:
        pods = await self.provider.get_pods()
        assert isinstance(pods, list), f"get_pods returned {type(pods).__name__}, not a list"
        return any(self.name_of(pod) == (namespace, name) for pod in pods)

    async def assert_consistent(self, namespace: str, name: str) -> bool:
        """``get_pod`` and ``get_pods`` agree on whether the pod exists; returns whether it does."""
        known = await self.known(namespace, name)
        listed = await self.listed(namespace, name)
        assert known == listed, (
            f"pod {namespace}/{name}: get_pod says {'known' if known else 'not found'} but "
            f"get_pods {'lists' if listed else 'does not list'} it"
        )
        return known

    async def status_of(self, namespace: str, name: str) -> dict[str, Any]:
        status = await self.provider.get_pod_status(namespace, name)
        assert status is not None, (
            f"get_pod_status({namespace!r}, {name!r}) returned None: an unknown pod must raise "
            "NotFoundError, a known one has a status"
        )
        return pod_status_to_dict(status)

    async def expect_not_found(self, call: str, action: Callable[[], Awaitable[object]]) -> None:
        """``action`` must raise ``NotFoundError`` (or an error explicitly raised from one)."""
        try:
            result = await action()
        except Exception as exc:
            assert is_not_found(exc), (
                f"{call} of an unknown pod raised {type(exc).__name__}: {exc}; it must raise "
                "NotFoundError"
            )
            return
        raise AssertionError(
            f"{call} of an unknown pod returned {_short(result)} instead of raising NotFoundError"
        )

    async def delete_tolerating_not_found(self, pod: Pod, what: str) -> None:
        """A delete that may answer "not found" (already gone), and nothing else."""
        try:
            await self.provider.delete_pod(self.deleting(pod))
        except Exception as exc:
            assert is_not_found(exc), (
                f"{what}: delete_pod raised {type(exc).__name__}: {exc}; a pod that is gone "
                "may only be NotFoundError (or a plain return)"
            )

    async def create_running(self, pod: Pod) -> tuple[str, str]:
        """Create ``pod`` and wait until the provider reports a phase for it."""
        namespace, name = self.name_of(pod)
        await self.provider.create_pod(self.copy(pod))
        await self.wait_for(
            f"pod {namespace}/{name} to be known after create_pod",
            lambda: self.known(namespace, name),
        )
        return namespace, name

    async def wait_phase(self, namespace: str, name: str, phases: tuple[str, ...]) -> None:
        async def reached() -> bool:
            return (await self.status_of(namespace, name)).get("phase") in phases

        await self.wait_for(f"pod {namespace}/{name} to reach phase {'/'.join(phases)}", reached)

    async def cleanup(self, *pods: Pod) -> None:
        """Delete what a case created, whatever state it is in."""
        for pod in pods:
            namespace, name = self.name_of(pod)
            if await self.known(namespace, name):
                await self.delete_tolerating_not_found(pod, f"cleaning up {namespace}/{name}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
