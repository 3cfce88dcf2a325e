"""Service-link variables."""

from typing import Any

from vk_trio.node._service_env import service_env, services_for_pod


def svc(namespace: str, name: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"clusterIP": ip, "ports": list(ports)},
    }


KUBERNETES = svc("default", "kubernetes", "10.0.0.1", {"name": "https", "port": 443})


def test_variables_of_one_service() -> None:
    service = svc(
        "ns",
        "my-db",
        "10.0.0.5",
        {"port": 5432},
        {"name": "metrics-port", "port": 9187, "protocol": "UDP"},
    )
    assert service_env([service]) == {
        "MY_DB_SERVICE_HOST": "10.0.0.5",
        "MY_DB_SERVICE_PORT": "5432",
        "MY_DB_SERVICE_PORT_METRICS_PORT": "9187",
        "MY_DB_PORT": "tcp://10.0.0.5:5432",
        "MY_DB_PORT_5432_TCP": "tcp://10.0.0.5:5432",
        "MY_DB_PORT_5432_TCP_PROTO": "tcp",
        "MY_DB_PORT_5432_TCP_PORT": "5432",
        "MY_DB_PORT_5432_TCP_ADDR": "10.0.0.5",
        "MY_DB_PORT_9187_UDP": "udp://10.0.0.5:9187",
        "MY_DB_PORT_9187_UDP_PROTO": "udp",
        "MY_DB_PORT_9187_UDP_PORT": "9187",
        "MY_DB_PORT_9187_UDP_ADDR": "10.0.0.5",
    }


def test_ipv6_addresses_are_bracketed() -> None:
    env = service_env([svc("ns", "v6", "fd00::1", {"port": 80})])
    assert env["V6_PORT"] == "tcp://[fd00::1]:80"
    assert env["V6_SERVICE_HOST"] == "fd00::1"


def test_selection_with_links_enabled() -> None:
    own = [
        svc("ns", "b", "10.0.0.3", {"port": 1}),
        svc("ns", "a", "10.0.0.2", {"port": 1}),
        svc("ns", "headless", "None", {"port": 1}),
        svc("ns", "no-ip", "", {"port": 1}),
    ]
    chosen = services_for_pod("ns", True, own, [KUBERNETES])
    assert [s["metadata"]["name"] for s in chosen] == ["a", "b", "kubernetes"]


def test_selection_with_links_disabled_keeps_only_the_master_service() -> None:
    own = [svc("ns", "a", "10.0.0.2", {"port": 1})]
    chosen = services_for_pod("ns", False, own, [KUBERNETES, svc("default", "other", "1.1.1.1")])
    assert chosen == [KUBERNETES]


def test_own_namespace_kubernetes_service_wins_over_the_master() -> None:
    mine = svc("ns", "kubernetes", "10.9.9.9", {"port": 1})
    assert services_for_pod("ns", True, [mine], [KUBERNETES]) == [mine]
    assert services_for_pod("ns", False, [mine], [KUBERNETES]) == [KUBERNETES]


def test_service_without_ports_only_has_a_host() -> None:
    assert service_env([svc("ns", "bare", "10.0.0.7")]) == {"BARE_SERVICE_HOST": "10.0.0.7"}
