"""The Node object a virtual kubelet registers, built from plain parameters.

The shape follows the Go Virtual Kubelet so that selectors, tolerations and dashboards written for
it keep working: the ``type=virtual-kubelet`` / ``kubernetes.io/role=agent`` /
``kubernetes.io/hostname`` labels (plus, unlike the Go version's core, the label that keeps the node
out of cloud load-balancer pools), the ``virtual-kubelet.io/provider=<provider>:NoSchedule`` taint
(overridable through ``VKUBELET_TAINT_KEY``/``_VALUE``/``_EFFECT``, or disabled), phase ``Pending``
until the node is ready, the kubelet port in ``daemonEndpoints`` (the API server dials it for
``kubectl logs/exec``), capacity and allocatable, conditions and ``nodeInfo``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, final

import attrs

from .. import __version__
from ..util import format_time

__all__ = [
    "DEFAULT_TAINT_KEY",
    "EXCLUDE_FROM_LOAD_BALANCERS_LABEL",
    "KUBELET_VERSION_PREFIX",
    "TAINT_EFFECTS",
    "Taint",
    "TaintError",
    "build_node",
    "default_conditions",
    "mark_node_ready",
    "taint_from_env",
]

DEFAULT_TAINT_KEY: Final = "virtual-kubelet.io/provider"
TAINT_EFFECTS: Final = ("NoSchedule", "NoExecute", "PreferNoSchedule")
KUBELET_VERSION_PREFIX: Final = "v1.31.4-vk-"
"""The Go version reports ``v1.31.4-vk-<build>``; tools match on the prefix, so we keep it."""
EXCLUDE_FROM_LOAD_BALANCERS_LABEL: Final = "node.kubernetes.io/exclude-from-external-load-balancers"
"""Service controllers leave a Node carrying this label (whatever its value) out of the pools of
``type: LoadBalancer`` Services. A virtual node carries it by default: it cannot forward the
traffic a cloud load balancer would send to its node port (docs/deploy.md)."""

_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_QUALIFIED_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


class TaintError(ValueError):
    """A taint the API server would refuse; ``part`` is ``"key"``, ``"value"`` or ``"effect"``."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


@final
@attrs.frozen
class Taint:
    """A node taint (``key=value:effect``)."""

    key: str
    value: str
    effect: str = "NoSchedule"

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "effect": self.effect}

    def validate(self) -> None:
        """Raise :class:`TaintError` unless the API server would accept this taint.

        The key is a qualified name (``[prefix/]name``: a DNS subdomain prefix, a name of at most
        63 characters), the value a label value, the effect one of :data:`TAINT_EFFECTS`. The one
        set of rules for the library and the command line (which names the flag or variable).
        """
        key, value, effect = self.key, self.value, self.effect
        if not key:
            raise TaintError("key", "the taint key must not be empty")
        prefix, _, name = key.rpartition("/")
        if (
            len(name) > 63
            or not _QUALIFIED_NAME.fullmatch(name)
            or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)))
            or key.count("/") > 1
        ):
            raise TaintError("key", f'taint key "{key}" is not a valid qualified name')
        if value and (len(value) > 63 or not _QUALIFIED_NAME.fullmatch(value)):
            raise TaintError("value", f'taint value "{value}" is not a valid label value')
        if effect not in TAINT_EFFECTS:
            raise TaintError(
                "effect",
                f'taint effect "{effect}" is not supported (use {", ".join(TAINT_EFFECTS)})',
            )


def taint_from_env(
    provider_name: str,
    environ: Mapping[str, str],
    *,
    key: str = DEFAULT_TAINT_KEY,
    disabled: bool = False,
) -> Taint | None:
    """The node's taint: ``key=<provider>:NoSchedule`` with the ``VKUBELET_TAINT_*`` overrides.

    ``key`` is the ``--taint`` flag's value. Raises :class:`TaintError` (a ``ValueError``) for a
    taint the API server would refuse (see :meth:`Taint.validate`; the Go version registers an
    invalid taint instead, or fails registration).
    """
    if disabled:
        return None
    key = environ.get("VKUBELET_TAINT_KEY", key)
    value = environ.get("VKUBELET_TAINT_VALUE", provider_name)
    effect = environ.get("VKUBELET_TAINT_EFFECT", "NoSchedule")
    taint = Taint(key, value, effect)
    taint.validate()
    return taint


def _condition(
    kind: str, status: str, reason: str, message: str, now: _dt.datetime
) -> dict[str, str]:
    stamp = format_time(now)
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def default_conditions(now: _dt.datetime) -> list[dict[str, str]]:
    """Conditions of a node that is registered but not ready yet."""
    return [
        _condition("Ready", "False", "KubeletPending", "kubelet is pending.", now),
        _condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            now,
        ),
        _condition(
            "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now
        ),
        _condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            now,
        ),
        _condition(
            "NetworkUnavailable", "False", "RouteCreated", "RouteController created a route", now
        ),
    ]


def build_node(
    name: str,
    *,
    now: _dt.datetime,
    taint: Taint | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    operating_system: str = "linux",
    architecture: str = "amd64",
    kubelet_version: str | None = None,
    internal_ip: str | None = None,
    addresses: Sequence[Mapping[str, str]] | None = None,
    daemon_port: int = 10250,
    capacity: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
    conditions: Sequence[Mapping[str, Any]] | None = None,
    provider_id: str | None = None,
    extra_taints: Sequence[Mapping[str, str]] = (),
    load_balancer_exclusion: bool = True,
) -> dict[str, Any]:
    """The Node to register.

    ``load_balancer_exclusion`` puts :data:`EXCLUDE_FROM_LOAD_BALANCERS_LABEL` (``"true"``) among
    the standard labels. ``labels`` are added to the standard ones (and win on a clash);
    ``addresses`` default to one ``InternalIP`` entry for ``internal_ip`` (kept even when empty,
    as the Go mock does, when ``internal_ip`` is given); ``allocatable`` defaults to
    ``capacity``; ``conditions`` to
    :func:`default_conditions`.
    """
    all_labels = {
        "type": "virtual-kubelet",
        "kubernetes.io/role": "agent",
        "kubernetes.io/hostname": name,
    }
    if load_balancer_exclusion:
        all_labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] = "true"
    all_labels.update(labels or {})
    metadata: dict[str, Any] = {"name": name, "labels": all_labels}
    if annotations:
        metadata["annotations"] = dict(annotations)
    taints = [taint.to_dict()] if taint is not None else []
    taints.extend(dict(extra) for extra in extra_taints)
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if provider_id:
        spec["providerID"] = provider_id
    if addresses is None:
        addresses = [] if internal_ip is None else [{"type": "InternalIP", "address": internal_ip}]
    capacity = dict(capacity or {})
    status: dict[str, Any] = {
        "phase": "Pending",
        "capacity": capacity,
        "allocatable": dict(allocatable) if allocatable is not None else dict(capacity),
        "conditions": (
            [dict(c) for c in conditions] if conditions is not None else default_conditions(now)
        ),
        "addresses": [dict(address) for address in addresses],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": daemon_port}},
        "nodeInfo": {
            "operatingSystem": operating_system,
            "architecture": architecture,
            "kubeletVersion": kubelet_version or KUBELET_VERSION_PREFIX + __version__,
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def mark_node_ready(node: Mapping[str, Any], now: _dt.datetime) -> dict[str, Any]:
    """A copy of ``node`` that is Ready (``KubeletReady``) with phase ``Running``.

    This is what the Go version's ready callback does when the provider does not manage node
    status itself; the transition time is the moment the node became ready.
    """
    ready = copy.deepcopy(dict(node))
    status = ready.setdefault("status", {})
    status["phase"] = "Running"
    conditions = status.setdefault("conditions", [])
    stamp = format_time(now)
    for condition in conditions:
        if condition.get("type") == "Ready":
            condition.update(
                status="True",
                reason="KubeletReady",
                message="Kubelet is ready",
                lastHeartbeatTime=stamp,
                lastTransitionTime=stamp,
            )
            break
    else:
        conditions.append(_condition("Ready", "True", "KubeletReady", "Kubelet is ready", now))
    return ready
