"""What the remote cluster can still take: the virtual node's capacity and allocatable.

The sum of ``allocatable`` over the remote nodes that could run our pods - Ready, schedulable, not
virtual kubelets themselves (a virtual node standing for another cluster would count that cluster
twice, or this one, in a loop) and matching the configured ``nodeSelector`` - minus the requests
of the pods on them that are not ours (our pods' requests are what the home scheduler already
accounts for on the virtual node).  CPU, memory and pods are always reported; any other resource
the nodes advertise (GPUs, hugepages...) is summed the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from ._labels import NODE_LABEL
from ._quantity import format_quantity, parse_quantity

__all__ = ["capacity_from", "eligible_node"]


def eligible_node(node: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    """Whether a remote node counts (see the module docstring)."""
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get("type") == "virtual-kubelet":
        return False
    if any(labels.get(key) != value for key, value in selector.items()):
        return False
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    conditions = (node.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _requests(pod: Mapping[str, Any]) -> dict[str, Fraction]:
    """A pod's effective requests: containers summed, at least the largest init container."""
    spec = pod.get("spec") or {}
    total: dict[str, Fraction] = {}
    for container in spec.get("containers") or ():
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = total.get(name, Fraction(0)) + parse_quantity(value)
    for container in spec.get("initContainers") or ():
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = max(total.get(name, Fraction(0)), parse_quantity(value))
    for name, value in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, Fraction(0)) + parse_quantity(value)
    return total


def capacity_from(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    *,
    selector: Mapping[str, str],
    node_name: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(capacity, allocatable)`` of the virtual node from the remote nodes and pods.

    ``capacity`` is the eligible nodes' allocatable; ``allocatable`` subtracts what other pods
    (not this virtual node's) request on them.
    """
    eligible = {}
    total: dict[str, Fraction] = {"cpu": Fraction(0), "memory": Fraction(0), "pods": Fraction(0)}
    for node in nodes:
        if not eligible_node(node, selector):
            continue
        eligible[(node.get("metadata") or {}).get("name")] = node
        status = node.get("status") or {}
        for name, value in (status.get("allocatable") or status.get("capacity") or {}).items():
            try:
                total[name] = total.get(name, Fraction(0)) + parse_quantity(value)
            except ValueError:
                continue
    used: dict[str, Fraction] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (meta.get("labels") or {}).get(NODE_LABEL) == node_name:
            continue
        if (pod.get("spec") or {}).get("nodeName") not in eligible:
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        used["pods"] = used.get("pods", Fraction(0)) + 1
        try:
            requests = _requests(pod)
        except ValueError:
            continue
        for name, value in requests.items():
            used[name] = used.get(name, Fraction(0)) + value
    capacity = {name: format_quantity(value, name) for name, value in total.items()}
    allocatable = {
        name: format_quantity(value - used.get(name, Fraction(0)), name)
        for name, value in total.items()
    }
    return capacity, allocatable
