"""Building the chosen provider at start-up; its failures are one-line start-up errors."""

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from vk_trio.cli import (
    LoadedProvider,
    Settings,
    SettingsError,
    create_provider,
    parse_command_line,
    settings_from,
)
from vk_trio.provider import (
    ENTRY_POINT_GROUP,
    InvalidInputError,
    LateResourceLookup,
    ProviderConfig,
)
from vk_trio_mock import MockProvider

from .conftest import NODE, Files


def settings(files: Files, provider: str = "mock", *argv: str) -> Settings:
    config = str(files.mock_config)
    args = parse_command_line(
        ["--provider", provider, "--provider-config", config, "--nodename", NODE, *argv]
    )
    env = {**files.env(), "VKUBELET_POD_IP": "10.9.8.7", "KUBELET_PORT": "10260"}
    return settings_from(args, env)


def fake(name: str, attr: str) -> list[EntryPoint]:
    return [EntryPoint(name=name, value=f"{__name__}:{attr}", group=ENTRY_POINT_GROUP)]


SEEN: list[ProviderConfig] = []


def records_config(config: ProviderConfig) -> MockProvider:
    SEEN.append(config)
    return MockProvider(node_name=config.node_name)


def raises_invalid(config: ProviderConfig) -> Any:
    raise InvalidInputError("region is required")


def raises_os_error(config: ProviderConfig) -> Any:
    raise FileNotFoundError(2, "No such file or directory", "/etc/cloud.json")


def raises_bug(config: ProviderConfig) -> Any:
    raise KeyError("oops")


def returns_nothing_useful(config: ProviderConfig) -> Any:
    return 42


NOT_CALLABLE = "text"


def test_mock_is_built_from_the_settings(files: Files) -> None:
    loaded = create_provider(settings(files))
    assert isinstance(loaded, LoadedProvider)
    assert loaded.name == "mock"
    assert isinstance(loaded.provider, MockProvider)
    assert loaded.provider.config.cpu == "2"
    assert loaded.config == ProviderConfig(
        provider_name="mock",
        node_name=NODE,
        config_path=str(files.mock_config),
        operating_system="linux",
        internal_ip="10.9.8.7",
        daemon_port=10260,
        cluster_domain="cluster.local",
        resources=loaded.resources,
    )
    assert isinstance(loaded.resources, LateResourceLookup)
    assert not loaded.resources.is_bound


def test_factory_receives_the_config(files: Files) -> None:
    SEEN.clear()
    loaded = create_provider(
        settings(files, "rec", "--os", "windows"), fake("rec", "records_config")
    )
    (config,) = SEEN
    assert config is loaded.config
    assert config.operating_system == "windows"
    assert config.resources is loaded.resources


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("raises_invalid", 'provider "x": region is required'),
        ("raises_os_error", 'provider "x": No such file or directory: /etc/cloud.json'),
        ("raises_bug", "provider \"x\": failed to start: KeyError: 'oops'"),
        ("returns_nothing_useful", 'provider "x": the factory returned int, not a Pod'),
        ("NOT_CALLABLE", "--provider: provider 'x': tests.cli.test_provider:NOT_CALLABLE is not"),
        ("missing_attr", "--provider: provider 'x': cannot import tests.cli.test_provider:missing"),
    ],
)
def test_factory_failures_are_settings_errors(files: Files, attr: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        create_provider(settings(files, "x"), fake("x", attr))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_unknown_provider(files: Files) -> None:
    with pytest.raises(SettingsError) as info:
        create_provider(settings(files, "nope"), [])
    assert str(info.value) == "--provider: provider 'nope' not found (available: none installed)"


def test_mock_configuration_errors_name_the_file(files: Files, tmp_path: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"vk-test": {"memory": "lots"}}')
    args = parse_command_line(
        ["--provider", "mock", "--provider-config", str(bad), "--nodename", NODE]
    )
    with pytest.raises(SettingsError) as info:
        create_provider(settings_from(args, files.env()))
    assert (
        str(info.value) == f'provider "mock": --provider-config {bad}: invalid memory value "lots"'
    )


class SyncLifecycle:
    """Has every method name, but ``create_pod`` is not async: refused at start-up."""

    def create_pod(self, pod: Any) -> None: ...
    async def update_pod(self, pod: Any) -> None: ...
    async def delete_pod(self, pod: Any) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Any: ...
    async def get_pod_status(self, namespace: str, name: str) -> Any: ...
    async def get_pods(self) -> list[Any]:
        return []


class RunWithoutTaskStatus(SyncLifecycle):
    async def create_pod(self, pod: Any) -> None: ...  # type: ignore[override]
    async def run(self) -> None: ...


def returns_sync_lifecycle(config: ProviderConfig) -> Any:
    return SyncLifecycle()


def returns_bad_runnable(config: ProviderConfig) -> Any:
    return RunWithoutTaskStatus()


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        (
            "returns_sync_lifecycle",
            'provider "x": SyncLifecycle.create_pod must be a coroutine function (async def)',
        ),
        (
            "returns_bad_runnable",
            'provider "x": RunWithoutTaskStatus.run must accept the keyword argument task_status',
        ),
    ],
)
def test_misshapen_providers_are_refused_at_start_up(files: Files, attr: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        create_provider(settings(files, "x"), fake("x", attr))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
