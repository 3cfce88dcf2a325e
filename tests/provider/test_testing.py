"""The conformance kit itself: a correct provider passes it, and each kind of wrong provider
fails the case meant to catch it, with a message that says what is wrong."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
import trio
import trio.testing

from vk_trio.provider import NotFoundError, Pod, PodCallback, ProviderLoadError
from vk_trio.provider import types as k8s
from vk_trio.provider.testing import CASES, ProviderConformance, applicable_cases
from vk_trio_mock import MockProvider


class Toy:
    """A small, correct provider without any optional capability (the node polls it)."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], Pod] = {}

    @staticmethod
    def key(pod: Pod) -> tuple[str, str]:
        return pod["metadata"]["namespace"], pod["metadata"]["name"]

    async def create_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()
        pod["status"] = {"phase": "Running"}
        self.pods[self.key(pod)] = pod

    async def update_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()
        if self.key(pod) not in self.pods:
            raise NotFoundError("no such pod")
        self.pods[self.key(pod)] = {**pod, "status": self.pods[self.key(pod)]["status"]}

    async def delete_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()
        if self.pods.pop(self.key(pod), None) is None:
            raise NotFoundError("no such pod")

    async def get_pod(self, namespace: str, name: str) -> Pod:
        await trio.lowlevel.checkpoint()
        try:
            return self.pods[namespace, name]
        except KeyError:
            raise NotFoundError("no such pod") from None

    async def get_pod_status(self, namespace: str, name: str) -> k8s.PodStatus:
        return (await self.get_pod(namespace, name))["status"]

    async def get_pods(self) -> list[Pod]:
        await trio.lowlevel.checkpoint()
        return list(self.pods.values())


class TestToyConformance(ProviderConformance):
    """The kit on a polled provider without capabilities (the mock covers the others), built
    from a fixture the way a provider needing one (a control plane, a directory) is."""

    provider_class = Toy

    @pytest.fixture(autouse=True)
    def _workdir(self, tmp_path: Path) -> None:
        self.workdir = tmp_path

    async def make_provider(self) -> Toy:
        assert self.workdir.is_dir()
        return Toy()


def test_only_applicable_cases_are_generated() -> None:
    ids, lacking = applicable_cases(Toy)
    assert lacking == ["notifier", "logs", "exec", "attach", "port-forward", "stats", "metrics"]
    assert ids == [
        "lifecycle",
        "not-found",
        "delete-is-idempotent",
        "concurrent-pods",
        "cancellation",
        "not-applicable:notifier,logs,exec,attach,port-forward,stats,metrics",
    ]
    ids, lacking = applicable_cases(MockProvider)
    assert lacking == []
    assert ids == list(CASES)


# -- wrong providers ------------------------------------------------------------------------


class ReturnsNone(Toy):
    async def get_pod(self, namespace: str, name: str) -> Pod:
        pod = self.pods.get((namespace, name))
        return pod  # type: ignore[return-value]  # the old "None means not found"


class UpdatesUnknownPods(Toy):
    async def update_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()
        self.pods[self.key(pod)] = pod


class DeleteFailsForUnknownPods(Toy):
    async def delete_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()
        if self.pods.pop(self.key(pod), None) is None:
            raise RuntimeError("backend says: no such container")


class IgnoresUpdates(Toy):
    async def update_pod(self, pod: Pod) -> None:
        await trio.lowlevel.checkpoint()


class HalfCreatesOnCancel(Toy):
    """Stores the pod, then waits, then lists it: a cancel in between leaves it half there."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: set[tuple[str, str]] = set()

    async def create_pod(self, pod: Pod) -> None:
        self.pods[self.key(pod)] = {**pod, "status": {"phase": "Running"}}
        await trio.sleep(1)
        self.listed.add(self.key(pod))

    async def delete_pod(self, pod: Pod) -> None:
        await super().delete_pod(pod)
        self.listed.discard(self.key(pod))

    async def get_pods(self) -> list[Pod]:
        await trio.lowlevel.checkpoint()
        return [pod for key, pod in self.pods.items() if key in self.listed]


class MutatesNotifiedPods(Toy):
    def __init__(self) -> None:
        super().__init__()
        self.notify: PodCallback | None = None

    def notify_pods(self, callback: PodCallback) -> None:
        self.notify = callback

    async def create_pod(self, pod: Pod) -> None:
        await super().create_pod(pod)
        assert self.notify is not None
        self.notify(pod)

    async def delete_pod(self, pod: Pod) -> None:
        stored = self.pods[self.key(pod)]
        await super().delete_pod(pod)
        stored["status"] = {"phase": "Succeeded"}  # changes the object notified at create
        assert self.notify is not None
        self.notify(stored)


class NeverTerminal(MutatesNotifiedPods):
    async def delete_pod(self, pod: Pod) -> None:
        await Toy.delete_pod(self, pod)


class SyncGetPods(Toy):
    def get_pods(self) -> list[Pod]:  # type: ignore[override]
        return []


def conformance(provider: type[Toy]) -> ProviderConformance:
    class Kit(ProviderConformance):
        provider_class = provider

        async def make_provider(self) -> Toy:
            return provider()

    return Kit()


@pytest.mark.parametrize(
    ("provider", "case", "message"),
    [
        (ReturnsNone, "not-found", "get_pod of an unknown pod returned None instead of raising"),
        (UpdatesUnknownPods, "not-found", "update_pod of an unknown pod returned None instead of"),
        (DeleteFailsForUnknownPods, "delete-is-idempotent", "may only be NotFoundError"),
        (HalfCreatesOnCancel, "cancellation", "get_pod says known but get_pods does not list it"),
        (MutatesNotifiedPods, "notifications", "the provider changed a pod after handing it"),
    ],
)
async def test_wrong_providers_fail_the_case_that_catches_them(
    provider: type[Toy], case: str, message: str
) -> None:
    with pytest.raises(AssertionError, match=message):
        await conformance(provider).test_conformance(case)


@pytest.mark.parametrize(
    ("provider", "case", "message"),
    [
        (IgnoresUpdates, "lifecycle", "waiting for get_pod of .* to show the labels of update"),
        (NeverTerminal, "notifications", "waiting for a notification with phase Succeeded or"),
    ],
)
async def test_states_never_reached_fail_after_the_bound(
    provider: type[Toy], case: str, message: str, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    with pytest.raises(AssertionError, match=f"timed out after 120 s {message}"):
        await conformance(provider).test_conformance(case)
    assert trio.current_time() - start >= 120


async def test_a_misshapen_provider_fails_every_case() -> None:
    with pytest.raises(ProviderLoadError, match=r"SyncGetPods\.get_pods must be a coroutine"):
        await conformance(SyncGetPods).test_conformance("lifecycle")


async def test_make_provider_must_return_the_declared_class() -> None:
    class Wrong(ProviderConformance):
        provider_class = MockProvider

        async def make_provider(self) -> Toy:
            return Toy()

    with pytest.raises(AssertionError, match="make_provider returned Toy, not"):
        await Wrong().test_conformance("lifecycle")


def test_a_subclass_must_name_its_provider_class() -> None:
    class NoClass(ProviderConformance):
        pass

    def test_conformance() -> None: ...

    metafunc = cast(pytest.Metafunc, SimpleNamespace(function=test_conformance))
    with pytest.raises(TypeError, match="NoClass: set provider_class to the class make_provider"):
        NoClass().pytest_generate_tests(metafunc)
