"""The public surface of the mock provider package."""

import vk_trio_mock


def test_public_names() -> None:
    public = {name for name in vars(vk_trio_mock) if not name.startswith("_")}
    assert public == {
        "DEFAULT_CPU",
        "DEFAULT_MEMORY",
        "DEFAULT_PODS",
        "FailurePlan",
        "LatencySpikes",
        "MockConfig",
        "MockKnobs",
        "MockLogs",
        "MockInjectedError",
        "MockProvider",
        "MockStatistics",
        "create_provider",
        "load_mock_config",
        "parse_mock_config",
    }
