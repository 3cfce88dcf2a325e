"""Service-link environment variables (``<SVC>_SERVICE_HOST`` and the Docker-link style ones).

Every container sees the ``kubernetes`` service of the ``default`` namespace, and, when the pod's
``spec.enableServiceLinks`` is true or absent, every service of its own namespace. Services without
a cluster IP (headless, ``None``) are skipped. The names follow the kubelet: upper-cased service
name with ``-`` turned into ``_``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["service_env", "services_for_pod"]

_MASTER_NAMESPACE = "default"
_MASTER_SERVICES = frozenset({"kubernetes"})


def _env_name(text: str) -> str:
    return text.replace("-", "_").upper()


def _has_cluster_ip(service: Mapping[str, Any]) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def services_for_pod(
    namespace: str,
    enable_service_links: bool,
    pod_namespace_services: Iterable[Mapping[str, Any]],
    master_services: Iterable[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    """Pick the services whose variables a pod in ``namespace`` gets, sorted by name.

    ``master_services`` are those of the ``default`` namespace named ``kubernetes``; a service of
    the same name in the pod's own namespace takes precedence when service links are on.
    """
    chosen: dict[str, Mapping[str, Any]] = {}
    for service in master_services:
        meta = service.get("metadata") or {}
        if (
            meta.get("namespace") == _MASTER_NAMESPACE
            and meta.get("name") in _MASTER_SERVICES
            and _has_cluster_ip(service)
        ):
            chosen.setdefault(meta["name"], service)
    if enable_service_links:
        for service in pod_namespace_services:
            meta = service.get("metadata") or {}
            if meta.get("namespace", namespace) == namespace and _has_cluster_ip(service):
                chosen[meta.get("name", "")] = service
    return [chosen[name] for name in sorted(chosen)]


def service_env(services: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The variables for ``services`` (assumed to have a cluster IP), in a stable order."""
    result: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        cluster_ip: str = spec.get("clusterIP") or ""
        prefix = _env_name((service.get("metadata") or {}).get("name", ""))
        ports: list[Mapping[str, Any]] = spec.get("ports") or []
        result[f"{prefix}_SERVICE_HOST"] = cluster_ip
        if not ports:
            continue
        result[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port", 0))
        for port in ports:
            if port.get("name"):
                result[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(
                    port.get("port", 0)
                )
        for index, port in enumerate(ports):
            number = int(port.get("port", 0))
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{_join_host_port(cluster_ip, number)}"
            if index == 0:
                result[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
            result[port_prefix] = url
            result[f"{port_prefix}_PROTO"] = protocol.lower()
            result[f"{port_prefix}_PORT"] = str(number)
            result[f"{port_prefix}_ADDR"] = cluster_ip
    return result
