"""Fill in the env values only the provider knows (pod IPs, host IPs, phase).

:func:`vk_trio.node.resolve_pod_env` leaves ``fieldRef`` entries to ``status.podIP``,
``status.podIPs``, ``status.hostIP``, ``status.hostIPs`` and ``status.phase`` in place as
``{name, valueFrom: {fieldRef: {fieldPath}}}``: they are the only ``valueFrom`` entries a provider
ever receives. A provider that learns those values (typically when its backend assigns the pod an
address) calls :func:`apply_runtime_fields` to get the pod with plain values, or translates the
entries into its backend's own mechanism.

Later entries that referred to such a variable with ``$(NAME)`` kept the reference literally (an
unknown variable stays as written); :func:`apply_runtime_fields` substitutes those references too.
Caveat: a value written as ``$$(NAME)`` (an escaped reference) is indistinguishable from a kept
reference at that point and is substituted as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._env import CONTAINER_GROUPS
from ._fieldref import DEFERRED_FIELD_PATHS

__all__ = ["apply_runtime_fields", "deferred_env_names"]


def _runtime_values(
    pod_ips: Sequence[str], host_ips: Sequence[str], phase: str | None
) -> dict[str, str]:
    return {
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
        "status.hostIP": host_ips[0] if host_ips else "",
        "status.hostIPs": ",".join(host_ips),
        "status.phase": phase or "",
    }


def _deferred_path(entry: Mapping[str, Any]) -> str | None:
    field_ref = (entry.get("valueFrom") or {}).get("fieldRef") or {}
    path = field_ref.get("fieldPath")
    return path if path in DEFERRED_FIELD_PATHS else None


def deferred_env_names(container: Mapping[str, Any]) -> dict[str, str]:
    """Names of the variables of ``container`` left for the provider, with their field path."""
    found: dict[str, str] = {}
    for entry in container.get("env") or []:
        path = _deferred_path(entry)
        if path is not None:
            found[str(entry.get("name", ""))] = path
    return found


def _substitute(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace(f"$({name})", value)
    return text


def _container(container: Mapping[str, Any], runtime: Mapping[str, str]) -> dict[str, Any]:
    substituted: dict[str, str] = {}
    env: list[dict[str, Any]] = []
    for entry in container.get("env") or []:
        name = str(entry.get("name", ""))
        path = _deferred_path(entry)
        if path is not None:
            substituted[name] = runtime[path]
            env.append({"name": name, "value": runtime[path]})
        elif substituted and "value" in entry:
            env.append({**entry, "value": _substitute(str(entry["value"]), substituted)})
        else:
            env.append(dict(entry))
    return {**container, "env": env}


def apply_runtime_fields(
    pod: Mapping[str, Any],
    *,
    pod_ips: Sequence[str] = (),
    host_ips: Sequence[str] = (),
    phase: str | None = None,
) -> dict[str, Any]:
    """A copy of ``pod`` with every deferred env entry replaced by its value.

    ``pod_ips``/``host_ips`` are in order of preference (the first is ``status.podIP``/``hostIP``;
    all of them, comma-joined, are ``status.podIPs``/``hostIPs``), as the kubelet reports them.
    """
    runtime = _runtime_values(pod_ips, host_ips, phase)
    spec: Mapping[str, Any] = pod.get("spec") or {}
    new_spec = dict(spec)
    for group in CONTAINER_GROUPS:
        containers = spec.get(group)
        if containers:
            new_spec[group] = [_container(container, runtime) for container in containers]
    return {**pod, "spec": new_spec}
