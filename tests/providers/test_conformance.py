"""The mock passes the provider conformance kit (vk_trio.provider.testing), like every provider."""

from vk_trio.provider.testing import ProviderConformance
from vk_trio_mock import MockConfig, MockKnobs, MockProvider


class TestMockConformance(ProviderConformance):
    provider_class = MockProvider
    logs_contain = b"mock log line"

    async def make_provider(self) -> MockProvider:
        return MockProvider(node_name="vk-conformance")  # logs: 3 "mock log line"s each


class TestSlowMockConformance(TestMockConformance):
    """With per-call latency every call blocks, so ``cancellation`` cancels calls mid-way."""

    async def make_provider(self) -> MockProvider:
        latency = dict.fromkeys(("create", "update", "delete", "get", "list"), 0.01)
        return MockProvider(
            node_name="vk-slow", config=MockConfig(knobs=MockKnobs(latency=latency))
        )
