"""ProviderCalls: one meaning of "not found", and a provider returning None is told once."""

import logging
from typing import Any

import pytest

from vk_trio.node._provider_calls import ProviderCalls
from vk_trio.provider import NotFoundError

from .fakeprovider import FakeProvider
from .podharness import make_pod


class NoneProvider(FakeProvider):
    """Breaks the contract: returns None for a pod it does not know."""

    async def get_pod(self, namespace: str, name: str) -> Any:
        await self._enter("get_pod", f"{namespace}/{name}")
        return self.pods.get(f"{namespace}/{name}")


async def test_not_found_from_get_pod_is_none() -> None:
    provider = FakeProvider()

    async def raise_not_found(namespace: str, name: str) -> dict[str, Any]:
        raise NotFoundError(f"{namespace}/{name}")

    provider.get_pod = raise_not_found  # type: ignore[method-assign]
    assert await ProviderCalls(provider).get_pod("ns", "web") is None


async def test_none_from_get_pod_is_not_found_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = ProviderCalls(NoneProvider())
    with caplog.at_level(logging.WARNING, logger="vk_trio.node.pods"):
        assert await calls.get_pod("ns", "a") is None
        assert await calls.get_pod("ns", "b") is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "NoneProvider.get_pod returned None" in warnings[0]
    assert "NotFoundError" in warnings[0]


async def test_deleting_a_pod_the_provider_does_not_have_is_done() -> None:
    provider = FakeProvider()
    await ProviderCalls(provider).delete_pod(make_pod("web"))  # raises NotFoundError inside
    assert provider.called("delete_pod") == ["ns/web"]


async def test_other_delete_errors_propagate() -> None:
    provider = FakeProvider()
    provider.pods["ns/web"] = make_pod("web")
    provider.fail("delete_pod", RuntimeError("backend down"))
    with pytest.raises(RuntimeError, match="backend down"):
        await ProviderCalls(provider).delete_pod(make_pod("web"))
