"""``status`` of a pod as the provider reports it (and as the API server stores it).

These are the JSON shapes; :class:`vk_trio.provider.PodStatus` and its relatives are the frozen
attrs builders that produce them (``to_dict()``).  Times are RFC 3339 text (``format_time``).
"""

from __future__ import annotations

from typing import Any, TypedDict

from ._container import ResourceRequirements

__all__ = [
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "ContainerUser",
    "HostIP",
    "LinuxContainerUser",
    "PodCondition",
    "PodIP",
    "PodStatus",
    "VolumeMountStatus",
]


class ContainerStateWaiting(TypedDict, total=False):
    """Not running yet (``reason``: ``ContainerCreating``, ``ImagePullBackOff``, ...)."""

    reason: str
    message: str


class ContainerStateRunning(TypedDict, total=False):
    """Running since ``startedAt``."""

    startedAt: str


class ContainerStateTerminated(TypedDict, total=False):
    """Finished with ``exitCode`` (or killed by ``signal``)."""

    exitCode: int
    signal: int
    reason: str
    message: str
    startedAt: str
    finishedAt: str
    containerID: str


class ContainerState(TypedDict, total=False):
    """Exactly one of the three is set."""

    waiting: ContainerStateWaiting
    running: ContainerStateRunning
    terminated: ContainerStateTerminated


class VolumeMountStatus(TypedDict, total=False):
    """A mount as it is in effect."""

    name: str
    mountPath: str
    readOnly: bool
    recursiveReadOnly: str
    volumeStatus: dict[str, Any]


class LinuxContainerUser(TypedDict, total=False):
    """The identity the container's first process runs as."""

    uid: int
    gid: int
    supplementalGroups: list[int]


class ContainerUser(TypedDict, total=False):
    """The container's user, per operating system."""

    linux: LinuxContainerUser


class ContainerStatus(TypedDict, total=False):
    """One container's state; ``name`` matches the container in the spec."""

    name: str
    image: str
    imageID: str
    containerID: str
    ready: bool
    started: bool
    restartCount: int
    state: ContainerState
    lastState: ContainerState
    allocatedResources: dict[str, str]
    allocatedResourcesStatus: list[dict[str, Any]]
    resources: ResourceRequirements
    volumeMounts: list[VolumeMountStatus]
    user: ContainerUser
    stopSignal: str


class PodCondition(TypedDict, total=False):
    """``type`` (``Ready``, ``Initialized``, ``PodScheduled``, ``ContainersReady``, ...) and
    ``status`` (``"True"``, ``"False"``, ``"Unknown"``)."""

    type: str
    status: str
    observedGeneration: int
    lastProbeTime: str
    lastTransitionTime: str
    reason: str
    message: str


class PodIP(TypedDict, total=False):
    """One of the pod's addresses."""

    ip: str


class HostIP(TypedDict, total=False):
    """One of the host's addresses."""

    ip: str


class PodStatus(TypedDict, total=False):
    """What the node writes to ``pods/status`` (``phase``: ``Pending``, ``Running``,
    ``Succeeded``, ``Failed``, ``Unknown``)."""

    phase: str
    conditions: list[PodCondition]
    message: str
    reason: str
    nominatedNodeName: str
    hostIP: str
    hostIPs: list[HostIP]
    podIP: str
    podIPs: list[PodIP]
    startTime: str
    initContainerStatuses: list[ContainerStatus]
    containerStatuses: list[ContainerStatus]
    ephemeralContainerStatuses: list[ContainerStatus]
    qosClass: str
    resize: str
    observedGeneration: int
    allocatedResources: dict[str, str]
    resources: ResourceRequirements
    resourceClaimStatuses: list[dict[str, Any]]
    extendedResourceClaimStatus: dict[str, Any]
    nodeAllocatableResourceClaimStatuses: list[dict[str, Any]]
    volumeHealth: list[dict[str, Any]]
