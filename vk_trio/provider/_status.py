"""Typed values for what a provider reports: pod status, container states, conditions, node bits.

Providers may return plain dicts (the Kubernetes JSON shape) everywhere a status is expected; these
classes exist for authors who would rather build statuses with a type checker watching.  They are
frozen so a value handed to the controllers cannot change under them.  They model the fields a
provider sets; anything else in the Kubernetes types is left out (return a dict for those).

The controllers never build typed values on the hot path: they convert a provider's value to a dict
once, with :func:`pod_status_to_dict`, and work on dicts from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast, final

import attrs

from ._converter import CONVERTER

if TYPE_CHECKING:
    from .types import Pod

__all__ = [
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "HostIP",
    "NodeAddress",
    "NodeCondition",
    "PodCondition",
    "PodIP",
    "PodStatus",
    "node_condition_to_dict",
    "pod_status_from_dict",
    "pod_status_to_dict",
    "pod_with_status",
]


@final
@attrs.frozen(kw_only=True)
class ContainerStateWaiting:
    """Not running (yet): ``reason`` is a CamelCase word such as ``ContainerCreating``."""

    reason: str | None = None
    message: str | None = None


@final
@attrs.frozen(kw_only=True)
class ContainerStateRunning:
    """Running since ``started_at``."""

    started_at: datetime | None = None


@final
@attrs.frozen(kw_only=True)
class ContainerStateTerminated:
    """Finished; ``exit_code`` is always written (0 is a successful exit, not "unknown")."""

    exit_code: int = 0
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    container_id: str | None = None


@final
@attrs.frozen(kw_only=True)
class ContainerState:
    """At most one of the three should be set, as in Kubernetes."""

    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


@final
@attrs.frozen(kw_only=True)
class ContainerStatus:
    """One entry of ``status.containerStatuses`` (keyed by ``name``)."""

    name: str
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    container_id: str | None = None
    started: bool | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None


@final
@attrs.frozen(kw_only=True)
class PodCondition:
    """An entry of ``status.conditions``; ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None


@final
@attrs.frozen(kw_only=True)
class PodIP:
    """One entry of ``status.podIPs``."""

    ip: str


@final
@attrs.frozen(kw_only=True)
class HostIP:
    """One entry of ``status.hostIPs``."""

    ip: str


@final
@attrs.frozen(kw_only=True)
class PodStatus:
    """A pod's ``status`` as a provider reports it.

    ``phase`` is one of ``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Unknown``.
    """

    phase: str | None = None
    conditions: tuple[PodCondition, ...] = ()
    message: str | None = None
    reason: str | None = None
    host_ip: str | None = None
    host_ips: tuple[HostIP, ...] = ()
    pod_ip: str | None = None
    pod_ips: tuple[PodIP, ...] = ()
    start_time: datetime | None = None
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    ephemeral_container_statuses: tuple[ContainerStatus, ...] = ()
    qos_class: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Kubernetes JSON form (a new dict every call)."""
        result: dict[str, Any] = CONVERTER.unstructure(self)
        return result


@final
@attrs.frozen(kw_only=True)
class NodeCondition:
    """One entry of a Node's ``status.conditions`` (``Ready``, ``MemoryPressure``, ...)."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_heartbeat_time: datetime | None = None
    last_transition_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Kubernetes JSON form."""
        result: dict[str, Any] = CONVERTER.unstructure(self)
        return result


@final
@attrs.frozen(kw_only=True)
class NodeAddress:
    """One entry of a Node's ``status.addresses``: ``type`` is ``InternalIP``, ``Hostname``, ..."""

    type: str
    address: str

    def to_dict(self) -> dict[str, Any]:
        """The Kubernetes JSON form."""
        return {"type": self.type, "address": self.address}


def pod_status_to_dict(status: PodStatus | Mapping[str, Any]) -> dict[str, Any]:
    """Normalise what a provider returned as a status to the Kubernetes JSON shape.

    A mapping is copied shallowly (the caller may then replace top-level keys without touching the
    provider's object); a :class:`PodStatus` is converted.
    """
    if isinstance(status, PodStatus):
        return status.to_dict()
    return dict(status)


def pod_status_from_dict(data: Mapping[str, Any]) -> PodStatus:
    """Read a ``status`` dict into a :class:`PodStatus` (unknown keys are dropped).

    Raises :class:`cattrs.errors.ClassValidationError` (a ``ValueError``-like group) on values of
    the wrong type.
    """
    return CONVERTER.structure(data, PodStatus)


def node_condition_to_dict(condition: NodeCondition | Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a node condition given as a typed value or a mapping."""
    if isinstance(condition, NodeCondition):
        return condition.to_dict()
    return dict(condition)


def pod_with_status(pod: Mapping[str, Any], status: PodStatus | Mapping[str, Any]) -> Pod:
    """A shallow copy of ``pod`` whose ``status`` is ``status``: what a notification callback takes.

    Shallow on purpose (cheap for 10,000 pods): ``metadata`` and ``spec`` are shared with ``pod``,
    which is fine because nobody mutates them after the fact.
    """
    result = dict(pod)
    result["status"] = pod_status_to_dict(status)
    return cast("Pod", result)
