"""The process provider's configuration file and factory: defaults, and one clear line per error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vk_trio.provider import InvalidInputError, ProviderConfig, load_provider_factory
from vk_trio_process import (
    DEFAULT_STATE_DIR,
    ProcessProvider,
    create_provider,
    parse_process_config,
)


def test_defaults_come_from_the_host() -> None:
    config = parse_process_config(None)
    assert str(config.state_dir) == DEFAULT_STATE_DIR
    assert config.isolation == ("namespaces" if os.geteuid() == 0 else "none")
    assert config.capacity["cpu"] == str(len(os.sched_getaffinity(0)))
    assert config.capacity["memory"].endswith("Ki")
    assert config.capacity["pods"] == "110"
    assert config.allow_host_path is False


def test_values_are_read() -> None:
    config = parse_process_config(
        {
            "stateDir": "/tmp/x",
            "isolation": "none",
            "capacity": {"cpu": 3, "memory": "2Gi", "nvidia.com/gpu": "1"},
            "allowHostPath": True,
        }
    )
    assert str(config.state_dir) == "/tmp/x"
    assert config.isolation == "none"
    assert config.capacity["cpu"] == "3"
    assert config.capacity["memory"] == "2Gi"
    assert config.capacity["nvidia.com/gpu"] == "1"
    assert config.capacity["pods"] == "110"
    assert config.allow_host_path is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"statedir": "/x"}, "unknown key 'statedir'"),
        ({"isolation": "vm"}, "isolation: must be 'namespaces' or 'none', not 'vm'"),
        ({"capacity": {"cpu": "lots"}}, "capacity.cpu: 'lots' is not a quantity"),
        ({"capacity": ["cpu"]}, "capacity: must be a mapping"),
        ({"allowHostPath": "yes"}, "allowHostPath: must be true or false, not 'yes'"),
        ({"stateDir": ""}, "stateDir: must be a non-empty path"),
        (["a"], "the configuration must be a mapping"),
    ],
)
def test_bad_values_name_the_key(document: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_process_config(document)
    assert "\n" not in str(caught.value)


def test_the_entry_point_builds_the_provider(tmp_path: Path) -> None:
    path = tmp_path / "process.yaml"
    path.write_text(f"stateDir: {tmp_path / 'state'}\nisolation: none\n")
    factory = load_provider_factory("process")
    provider = factory(
        ProviderConfig(provider_name="process", node_name="n", config_path=str(path))
    )
    assert isinstance(provider, ProcessProvider)
    assert (tmp_path / "state" / "pods").is_dir()
    node: dict[str, object] = {"metadata": {"name": "n"}}
    provider.configure_node(node)
    status = node["status"]
    assert isinstance(status, dict)
    assert status["capacity"]["pods"] == "110"
    assert status["allocatable"] == status["capacity"]


def test_factory_errors_name_the_file(tmp_path: Path) -> None:
    def build(text: str | None) -> None:
        path = None
        if text is not None:
            path = tmp_path / "p.yaml"
            path.write_text(text)
        create_provider(
            ProviderConfig(
                provider_name="process", node_name="n", config_path=str(path) if path else None
            )
        )

    with pytest.raises(InvalidInputError, match=r"p\.yaml: unknown key 'foo'"):
        build("foo: 1\n")
    with pytest.raises(InvalidInputError, match=r"p\.yaml is not valid YAML"):
        build("stateDir: [\n")
    with pytest.raises(InvalidInputError, match="cannot read"):
        create_provider(
            ProviderConfig(provider_name="process", node_name="n", config_path=str(tmp_path / "no"))
        )
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InvalidInputError, match="stateDir: cannot create"):
        build(f"stateDir: {blocker}/state\nisolation: none\n")
