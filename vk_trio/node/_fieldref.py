"""Downward-API values for env: ``fieldRef`` and ``resourceFieldRef``.

What the kubelet resolves from the pod object and the node, we resolve the same way. Values that
only exist once the pod runs somewhere (its IPs, the IPs of the host it landed on, its phase) are
known to the provider alone: for those :func:`resolve_field_ref` returns ``None`` and the env entry
is handed to the provider *unresolved* (see :data:`DEFERRED_FIELD_PATHS` and
``vk_trio.node.apply_runtime_fields``). The Go Virtual Kubelet fails the whole pod instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from ..util import go_quote
from ._quantity import QuantityError, ceil_milli_value, ceil_value, parse_quantity

__all__ = [
    "DEFERRED_FIELD_PATHS",
    "FieldRefError",
    "format_map",
    "resolve_field_ref",
    "resolve_resource_field_ref",
]

DEFERRED_FIELD_PATHS = frozenset(
    {"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs", "status.phase"}
)
"""Field paths only the provider can know; their env entries reach it as ``valueFrom.fieldRef``."""

_LIMITED = ("cpu", "memory", "ephemeral-storage")

_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class FieldRefError(ValueError):
    """A reference the resolver cannot turn into a value (fails the pod's env resolution)."""


def format_map(values: Mapping[str, str]) -> str:
    """``key="value"`` lines, keys sorted: how labels/annotations appear as one env value."""
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values))


def _qualified_name_errors(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            return ["prefix part must be a lowercase RFC 1123 subdomain"]
    else:
        return ["a qualified name must consist of a name part with an optional prefix and '/'"]
    if not name:
        return ["name part must be non-empty"]
    if len(name) > 63:
        return ["name part must be no more than 63 characters"]
    if not _NAME_PART.match(name):
        return [
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character"
        ]
    return []


def _split_subscript(path: str) -> tuple[str, str | None]:
    if path.endswith("']"):
        opener = path.find("['")
        if opener != -1:
            return path[:opener], path[opener + 2 : -2]
    return path, None


def resolve_field_ref(pod: Mapping[str, Any], field_ref: Mapping[str, Any]) -> str | None:
    """The value of a ``fieldRef`` for ``pod``, or ``None`` when only the provider can know it."""
    api_version = field_ref.get("apiVersion") or "v1"
    if api_version != "v1":
        raise FieldRefError(f"unsupported pod version: {api_version}")
    path = str(field_ref.get("fieldPath", ""))
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    base, subscript = _split_subscript(path)
    if subscript is not None:
        if base not in ("metadata.labels", "metadata.annotations"):
            raise FieldRefError(f"field label does not support subscript: {path}")
        check = subscript.lower() if base == "metadata.annotations" else subscript
        errors = _qualified_name_errors(check)
        if errors:
            raise FieldRefError(f"invalid key subscript in {path}: {'; '.join(errors)}")
        source = meta.get("labels" if base == "metadata.labels" else "annotations") or {}
        return str(source.get(subscript, ""))
    if path in DEFERRED_FIELD_PATHS:
        return None
    match path:
        case "metadata.name" | "metadata.namespace" | "metadata.uid":
            return str(meta.get(path.removeprefix("metadata."), ""))
        case "metadata.labels":
            return format_map(meta.get("labels") or {})
        case "metadata.annotations":
            return format_map(meta.get("annotations") or {})
        case "spec.nodeName" | "spec.host":
            return str(spec.get("nodeName", ""))
        case "spec.serviceAccountName" | "spec.restartPolicy" | "spec.schedulerName":
            return str(spec.get(path.removeprefix("spec."), ""))
    raise FieldRefError(f"field label not supported: {path}")


def _find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    spec: Mapping[str, Any] = pod.get("spec") or {}
    for group in ("containers", "initContainers"):
        for container in spec.get(group) or []:
            if container.get("name") == name:
                return dict(container)
    return None


def resolve_resource_field_ref(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ref: Mapping[str, Any],
    node_allocatable: Mapping[str, str],
) -> str:
    """The value of a ``resourceFieldRef`` as the kubelet computes it.

    The referenced container defaults to ``container``. Unset limits of cpu, memory and
    ephemeral storage default to the node's allocatable amount, as on a real node. The result is
    the quantity divided by the divisor (default 1), rounded up; CPU is compared in millicores.
    """
    target_name = ref.get("containerName") or container.get("name", "")
    target = container if target_name == container.get("name") else None
    if target is None:
        target = _find_container(pod, str(target_name))
    if target is None:
        raise FieldRefError(f"container {target_name} not found")
    resource = str(ref.get("resource", ""))
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise FieldRefError(f"unsupported container resource : {resource}")
    if name not in _LIMITED and not name.startswith("hugepages-"):
        raise FieldRefError(f"unsupported container resource : {resource}")
    try:
        divisor = parse_quantity(str(ref.get("divisor") or "0"))
        if divisor == 0:
            divisor = Fraction(1)
        amounts: Mapping[str, Any] = (target.get("resources") or {}).get(kind) or {}
        raw = amounts.get(name)
        if raw is None and kind == "limits" and name in _LIMITED:
            raw = node_allocatable.get(name)
        quantity = parse_quantity(str(raw)) if raw is not None else Fraction(0)
    except QuantityError as exc:
        raise FieldRefError(str(exc)) from exc
    if name == "cpu":
        numerator, denominator = ceil_milli_value(quantity), ceil_milli_value(divisor)
    else:
        numerator, denominator = ceil_value(quantity), ceil_value(divisor)
    if denominator <= 0:
        raise FieldRefError(f"invalid divisor {ref.get('divisor')!r} for {resource}")
    return str(ceil_value(Fraction(numerator, denominator)))
