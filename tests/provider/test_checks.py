"""The load-time check: a provider whose methods have the wrong shape is refused, naming the
method, before anything starts (``isinstance`` on the protocols only checks names)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from vk_trio.provider import PodLifecycleHandler, ProviderLoadError, check_provider
from vk_trio_mock import MockProvider


class Minimal:
    async def create_pod(self, pod: Any) -> None: ...
    async def update_pod(self, pod: Any) -> None: ...
    async def delete_pod(self, pod: Any) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Any: ...
    async def get_pod_status(self, namespace: str, name: str) -> Any: ...
    async def get_pods(self) -> list[Any]:
        return []


class SyncCreate(Minimal):
    def create_pod(self, pod: Any) -> None:  # type: ignore[override]
        pass


class SyncGetPods(Minimal):
    def get_pods(self) -> list[Any]:  # type: ignore[override]
        return []


class WrongArity(Minimal):
    async def get_pod(self, name: str) -> Any:  # type: ignore[override]
        return None


class SyncRun(Minimal):
    def run(self, *, task_status: Any = None) -> None:
        pass


class RunWithoutTaskStatus(Minimal):
    async def run(self) -> None:
        await trio.sleep_forever()


class RunNeedingArguments(Minimal):
    async def run(self, interval: float, *, task_status: Any = None) -> None:
        await trio.sleep_forever()


class AsyncNotify(Minimal):
    async def notify_pods(self, callback: Any) -> None:
        pass


class AsyncConfigure(Minimal):
    async def configure_node(self, node: Any) -> None:
        pass


class AsyncNodeStatus(Minimal):
    async def ping(self) -> None: ...
    async def notify_node_status(self, callback: Any) -> None: ...


class SyncPing(Minimal):
    def ping(self) -> None: ...
    def notify_node_status(self, callback: Any) -> None: ...


class SyncLogs(Minimal):
    def get_container_logs(self, namespace: str, pod: str, container: str, options: Any) -> Any:
        return None


class NotCallableNotify(Minimal):
    notify_pods = "not a function"


class RunWithKwargs(Minimal):
    async def run(self, **options: Any) -> None:
        await trio.sleep_forever()


def test_well_formed_providers_pass() -> None:
    check_provider(Minimal())
    check_provider(MockProvider(node_name="vk"))
    check_provider(RunWithKwargs())


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (object(), "object is not a PodLifecycleHandler: it has no create_pod, update_pod, "),
        (SyncCreate(), "SyncCreate.create_pod must be a coroutine function (async def)"),
        (SyncGetPods(), "SyncGetPods.get_pods must be a coroutine function (async def)"),
        (WrongArity(), "WrongArity.get_pod does not take 2 arguments: (name: 'str') -> 'Any': "),
        (SyncRun(), "SyncRun.run must be a coroutine function (async def run(self, *, task_st"),
        (RunWithoutTaskStatus(), "RunWithoutTaskStatus.run must accept the keyword argument"),
        (RunNeedingArguments(), "RunNeedingArguments.run must accept the keyword argument"),
        (AsyncNotify(), "AsyncNotify.notify_pods must be a plain function, not async"),
        (AsyncConfigure(), "AsyncConfigure.configure_node must be a plain function, not async"),
        (AsyncNodeStatus(), "AsyncNodeStatus.notify_node_status must be a plain function"),
        (SyncPing(), "SyncPing.ping must be a coroutine function (async def)"),
        (SyncLogs(), "SyncLogs.get_container_logs must be a coroutine function (async def)"),
        (NotCallableNotify(), "NotCallableNotify.notify_pods is not callable"),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else "",
)
def test_misshapen_providers_are_refused_naming_the_method(provider: Any, message: str) -> None:
    with pytest.raises(ProviderLoadError) as info:
        check_provider(provider)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_runtime_checkable_alone_would_accept_them() -> None:
    # the reason check_provider exists: isinstance sees only the names
    assert isinstance(SyncCreate(), PodLifecycleHandler)
