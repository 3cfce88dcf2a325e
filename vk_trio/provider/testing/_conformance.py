"""The conformance kit's entry point: a base class that pytest collects through a subclass.

Why a base class and ``pytest_generate_tests`` rather than a plugin or a fixture: a provider
author's test module needs nothing but the subclass (no ``conftest.py``, no plugin
registration), and the generated cases are only those the provider is meant to pass.  A
capability the provider does not implement gets no case at all, only one ``not-applicable``
case that asserts it really is absent (so the node and the kubelet API, which detect
capabilities the same way, will not call it either).  Nothing is skipped.

Capabilities are read from :attr:`ProviderConformance.provider_class` at collection time, when
no provider can be built yet (building one may need fixtures, a cluster, a trio loop); each case
then checks the instance it got matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import pytest
import trio

from .._checks import check_provider
from .._converter import format_time
from .._protocols import PodLifecycleHandler, PodNotifier, Runnable
from .._streaming import (
    AttachProvider,
    ContainerLogsProvider,
    ExecProvider,
    MetricsResourceProvider,
    PortForwardProvider,
    StatsSummaryProvider,
)
from ..types import Pod
from . import _cases, _streams
from ._kit import Kit

__all__ = ["CASES", "ProviderConformance", "applicable_cases"]

Case = Callable[[Kit], Awaitable[None]]

# capability name -> (protocol, the methods that make it up)
CAPABILITIES: Final[dict[str, tuple[type, tuple[str, ...]]]] = {
    "notifier": (PodNotifier, ("notify_pods",)),
    "logs": (ContainerLogsProvider, ("get_container_logs",)),
    "exec": (ExecProvider, ("run_in_container",)),
    "attach": (AttachProvider, ("attach_to_container",)),
    "port-forward": (PortForwardProvider, ("port_forward",)),
    "stats": (StatsSummaryProvider, ("get_stats_summary",)),
    "metrics": (MetricsResourceProvider, ("get_metrics_resource",)),
}

CASES: Final[dict[str, tuple[str | None, Case]]] = {
    "lifecycle": (None, _cases.lifecycle),
    "not-found": (None, _cases.not_found),
    "delete-is-idempotent": (None, _cases.delete_is_idempotent),
    "concurrent-pods": (None, _cases.concurrent_pods),
    "cancellation": (None, _cases.cancellation),
    "notifications": ("notifier", _cases.notifications),
    "logs": ("logs", _streams.logs),
    "exec": ("exec", _streams.exec_),
    "attach": ("attach", _streams.attach),
    "port-forward": ("port-forward", _streams.port_forward),
    "stats": ("stats", _streams.stats),
    "metrics": ("metrics", _streams.metrics),
}
"""Every case by id, with the capability it needs (``None``: every provider)."""

NOT_APPLICABLE = "not-applicable"


def _implements(cls: type, capability: str) -> bool:
    return all(callable(getattr(cls, m, None)) for m in CAPABILITIES[capability][1])


def applicable_cases(provider_class: type) -> tuple[list[str], list[str]]:
    """The case ids a provider of this class runs, and the capabilities it lacks."""
    lacking = [c for c in CAPABILITIES if not _implements(provider_class, c)]
    ids = [case for case, (needs, _) in CASES.items() if needs is None or needs not in lacking]
    if lacking:
        ids.append(f"{NOT_APPLICABLE}:{','.join(lacking)}")
    return ids, lacking


class ProviderConformance:
    """Subclass it as ``Test...`` in a test module, set :attr:`provider_class`, implement
    :meth:`make_provider`; pytest (with pytest-trio) then runs one ``test_conformance`` case per
    applicable behaviour::

        class TestMyProvider(ProviderConformance):
            provider_class = MyProvider

            async def make_provider(self) -> MyProvider:
                return MyProvider(node_name="vk-test")

    Override :meth:`make_pod` when the default pod (one ``busybox`` container running
    ``sleep``) cannot run on the backend, and the class attributes below where the backend's
    containers answer differently.  Every wait is bounded by :attr:`timeout` (generous: a
    loaded CI machine is slow, never wrong).
    """

    provider_class: ClassVar[type]
    """The class :meth:`make_provider` returns: its methods decide which cases exist."""

    namespace: ClassVar[str] = "conformance"
    """The namespace of the kit's pods (each pod gets a unique name and UID)."""

    timeout: ClassVar[float] = 120.0
    """Upper bound of every wait for an eventual state (seconds)."""

    concurrency: ClassVar[int] = 16
    """Pods created, updated and deleted at once by ``concurrent-pods``."""

    exec_command: ClassVar[tuple[str, ...]] = ("echo", "vk-trio-conformance")
    exec_output: ClassVar[bytes] = b"vk-trio-conformance\n"
    """``exec``: the command run in the first container and its exact stdout."""

    exec_stdin_command: ClassVar[tuple[str, ...]] = ("cat",)
    """``exec``: a command that copies stdin to stdout until stdin closes."""

    exec_failing_command: ClassVar[tuple[str, ...]] = ("sh", "-c", "exit 3")
    exec_failing_code: ClassVar[int] = 3
    """``exec``: a command that exits non-zero, and its code (``ContainerExitError``)."""

    attach_input: ClassVar[bytes] = b"vk-trio-conformance\n"
    attach_output: ClassVar[bytes | None] = b"vk-trio-conformance"
    """``attach``: bytes written to the main process's stdin and what must come back on
    stdout (``None``: only check that attaching and leaving work)."""

    logs_contain: ClassVar[bytes | None] = None
    """``logs``: bytes the first container's log must contain (``None``: any log)."""

    forward_port: ClassVar[int] = 8080
    forward_request: ClassVar[bytes] = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
    forward_response: ClassVar[bytes] = b"HTTP/1."
    """``port-forward``: the pod port, what the client sends, how the answer starts."""

    async def make_provider(self) -> PodLifecycleHandler:
        """A fresh provider for one case (the kit starts ``run`` and registers the notifier)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_provider")

    async def close_provider(self, provider: Any) -> None:
        """Release what :meth:`make_provider` acquired (called after ``run`` was cancelled)."""
        await trio.lowlevel.checkpoint()

    def make_pod(self, namespace: str, name: str) -> Pod:
        """The pod the cases create, as the node would hand it over (bound, env resolved).

        Its ``terminationGracePeriodSeconds`` (1 here) becomes ``deletionGracePeriodSeconds``
        on the pod handed to ``delete_pod``, as graceful deletion in the API would set it.
        """
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "namespace": namespace,
                "name": name,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": format_time(datetime.now(UTC)),
                "labels": {"app": "vk-trio-conformance"},
            },
            "spec": {
                "nodeName": "vk-conformance",
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox:1.36",
                        "command": ["sleep", "3600"],
                        "env": [{"name": "CONFORMANCE", "value": "yes"}],
                    }
                ],
            },
            "status": {"phase": "Pending"},
        }

    # -- pytest ---------------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """pytest calls this for the subclass: one ``test_conformance`` case per applicable id."""
        if metafunc.function.__name__ != "test_conformance":
            return
        provider_class = getattr(self, "provider_class", None)
        if not isinstance(provider_class, type):
            raise TypeError(
                f"{type(self).__name__}: set provider_class to the class make_provider returns"
            )
        ids, _lacking = applicable_cases(provider_class)
        metafunc.parametrize("conformance_case", ids, ids=ids)

    @pytest.mark.trio
    async def test_conformance(self, conformance_case: str) -> None:
        """Run one case against a fresh provider, as the node would drive it."""
        provider = await self.make_provider()
        try:
            assert isinstance(provider, self.provider_class), (
                f"make_provider returned {type(provider).__name__}, not {self.provider_class}"
            )
            check_provider(provider)
            if conformance_case.startswith(NOT_APPLICABLE):
                _assert_lacking(provider, conformance_case)
                return
            await self._run_case(provider, CASES[conformance_case][1])
        finally:
            await self.close_provider(provider)

    async def _run_case(self, provider: PodLifecycleHandler, case: Case) -> None:
        kit = Kit(
            provider,
            make_pod=self.make_pod,
            namespace=self.namespace,
            timeout=self.timeout,
            concurrency=self.concurrency,
            settings=self,
        )
        failure: Exception | None = None
        async with trio.open_nursery() as nursery:
            # the node's order: the provider's background work first, then the notifier
            if isinstance(provider, Runnable):
                with trio.fail_after(self.timeout):
                    await nursery.start(provider.run)
            if isinstance(provider, PodNotifier):
                provider.notify_pods(kit.record)
            try:
                await case(kit)
            except Exception as exc:  # reported below, unwrapped from the nursery's group
                failure = exc
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure


def _assert_lacking(provider: object, case: str) -> None:
    for capability in case.partition(":")[2].split(","):
        protocol = CAPABILITIES[capability][0]
        assert not isinstance(provider, protocol), (
            f"{type(provider).__name__} instances implement {capability} but the class does not"
        )
