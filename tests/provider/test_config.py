"""ProviderConfig and the late-bound cluster lookups."""

from typing import Any

import pytest

from vk_trio.provider import LateResourceLookup, ProviderConfig, ResourceLookup


class FakeLookup:
    def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return {"metadata": {"namespace": namespace, "name": name}} if name == "cm" else None

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def list_services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [{"metadata": {"namespace": namespace or "default", "name": "kubernetes"}}]

    def list_pods(self) -> list[dict[str, Any]]:
        return []


def test_defaults_follow_the_go_command() -> None:
    config = ProviderConfig(provider_name="mock", node_name="vk")
    assert config.config_path is None
    assert config.operating_system == "linux"
    assert config.internal_ip == ""
    assert config.daemon_port == 10250
    assert config.cluster_domain == "cluster.local"
    assert isinstance(config.resources, LateResourceLookup)


def test_late_lookup_refuses_before_binding_then_delegates() -> None:
    late = LateResourceLookup()
    assert not late.is_bound
    with pytest.raises(RuntimeError, match="not available until the node is running"):
        late.get_config_map("ns", "cm")
    with pytest.raises(RuntimeError):
        late.list_pods()
    target: ResourceLookup = FakeLookup()
    late.bind(target)
    assert late.is_bound
    assert late.get_config_map("ns", "cm") == {"metadata": {"namespace": "ns", "name": "cm"}}
    assert late.get_secret("ns", "s") is None
    assert late.list_services("ns")[0]["metadata"]["namespace"] == "ns"
    assert late.list_services()[0]["metadata"]["namespace"] == "default"
    assert late.list_pods() == []


def test_binding_twice_is_an_error() -> None:
    late = LateResourceLookup()
    late.bind(FakeLookup())
    with pytest.raises(RuntimeError, match="already bound"):
        late.bind(FakeLookup())


def test_each_config_gets_its_own_lookup() -> None:
    a = ProviderConfig(provider_name="mock", node_name="a")
    b = ProviderConfig(provider_name="mock", node_name="b")
    assert a.resources is not b.resources
