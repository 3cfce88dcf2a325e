"""The ``mock`` entry point builds the provider from the command's configuration."""

from pathlib import Path

import pytest

from vk_trio.provider import InvalidInputError, ProviderConfig, load_provider_factory
from vk_trio_mock import MockProvider, create_provider


def config(path: str | None, node: str = "vk") -> ProviderConfig:
    return ProviderConfig(
        provider_name="mock",
        node_name=node,
        config_path=path,
        operating_system="linux",
        internal_ip="10.0.0.9",
        daemon_port=10260,
    )


def test_entry_point_resolves_to_the_factory() -> None:
    assert load_provider_factory("mock") is create_provider


def test_builds_the_mock_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text('{"vk": {"cpu": "4", "providerID": "mock://vk"}}')
    provider = create_provider(config(str(path)))
    assert isinstance(provider, MockProvider)
    assert provider.config.cpu == "4"
    node: dict[str, dict[str, object]] = {"metadata": {}}
    provider.configure_node(node)
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.9"}]
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10260}}


def test_requires_a_config_file() -> None:
    with pytest.raises(InvalidInputError, match=r"^--provider-config is required"):
        create_provider(config(None))


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text('{"other": {}}')
    with pytest.raises(InvalidInputError) as info:
        create_provider(config(str(path)))
    assert str(info.value) == (
        f"--provider-config {path}: invalid CPU value \"\" (the file has no entry for node 'vk')"
    )
    with pytest.raises(InvalidInputError, match="No such file or directory"):
        create_provider(config(str(tmp_path / "missing.json")))
