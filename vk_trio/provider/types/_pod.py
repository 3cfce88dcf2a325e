"""The pod and its spec (scheduling, DNS, security and the other pod-wide settings)."""

from __future__ import annotations

from typing import Any, TypedDict

from ._container import (
    AppArmorProfile,
    Container,
    EphemeralContainer,
    ResourceRequirements,
    SeccompProfile,
    SELinuxOptions,
    WindowsSecurityContextOptions,
)
from ._meta import LabelSelector, LocalObjectReference, ObjectMeta
from ._status import PodStatus
from ._volume import Volume

__all__ = [
    "Affinity",
    "HostAlias",
    "Pod",
    "PodDNSConfig",
    "PodDNSConfigOption",
    "PodOS",
    "PodReadinessGate",
    "PodResourceClaim",
    "PodSchedulingGate",
    "PodSecurityContext",
    "PodSpec",
    "Sysctl",
    "Toleration",
    "TopologySpreadConstraint",
]


class Toleration(TypedDict, total=False):
    """Tolerates taints matching ``key``/``operator``/``value``/``effect`` (for
    ``tolerationSeconds`` when the effect is ``NoExecute``)."""

    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class Affinity(TypedDict, total=False):
    """Scheduling constraints; already applied when the pod reaches the node, kept as JSON."""

    nodeAffinity: dict[str, Any]
    podAffinity: dict[str, Any]
    podAntiAffinity: dict[str, Any]


class TopologySpreadConstraint(TypedDict, total=False):
    """How matching pods spread over ``topologyKey`` (a scheduling concern)."""

    maxSkew: int
    topologyKey: str
    whenUnsatisfiable: str
    labelSelector: LabelSelector
    minDomains: int
    nodeAffinityPolicy: str
    nodeTaintsPolicy: str
    matchLabelKeys: list[str]


class HostAlias(TypedDict, total=False):
    """Extra ``/etc/hosts`` lines: ``ip`` and its ``hostnames``."""

    ip: str
    hostnames: list[str]


class PodDNSConfigOption(TypedDict, total=False):
    """A resolver option (``ndots``: ``"2"``)."""

    name: str
    value: str


class PodDNSConfig(TypedDict, total=False):
    """Resolver settings merged with those ``dnsPolicy`` implies."""

    nameservers: list[str]
    searches: list[str]
    options: list[PodDNSConfigOption]


class Sysctl(TypedDict, total=False):
    """A namespaced kernel parameter."""

    name: str
    value: str


class PodSecurityContext(TypedDict, total=False):
    """Security settings for every container of the pod (a container's own override them)."""

    seLinuxOptions: SELinuxOptions
    windowsOptions: WindowsSecurityContextOptions
    runAsUser: int
    runAsGroup: int
    runAsNonRoot: bool
    supplementalGroups: list[int]
    supplementalGroupsPolicy: str
    fsGroup: int
    fsGroupChangePolicy: str
    sysctls: list[Sysctl]
    seccompProfile: SeccompProfile
    appArmorProfile: AppArmorProfile
    seLinuxChangePolicy: str


class PodReadinessGate(TypedDict, total=False):
    """An extra condition ``conditionType`` that must be True for the pod to be Ready."""

    conditionType: str


class PodOS(TypedDict, total=False):
    """The operating system the pod needs (``linux``, ``windows``)."""

    name: str


class PodSchedulingGate(TypedDict, total=False):
    """A gate that keeps the pod from being scheduled while present."""

    name: str


class PodResourceClaim(TypedDict, total=False):
    """A dynamic resource claim, by claim name or template name."""

    name: str
    resourceClaimName: str
    resourceClaimTemplateName: str


class PodSpec(TypedDict, total=False):
    """``spec``: what to run and how.  ``nodeName`` is the virtual node's name."""

    containers: list[Container]
    initContainers: list[Container]
    ephemeralContainers: list[EphemeralContainer]
    volumes: list[Volume]
    restartPolicy: str
    terminationGracePeriodSeconds: int
    activeDeadlineSeconds: int
    dnsPolicy: str
    dnsConfig: PodDNSConfig
    nodeSelector: dict[str, str]
    nodeName: str
    serviceAccountName: str
    serviceAccount: str
    automountServiceAccountToken: bool
    hostNetwork: bool
    hostPID: bool
    hostIPC: bool
    hostUsers: bool
    shareProcessNamespace: bool
    securityContext: PodSecurityContext
    imagePullSecrets: list[LocalObjectReference]
    hostname: str
    subdomain: str
    setHostnameAsFQDN: bool
    hostnameOverride: str
    affinity: Affinity
    schedulerName: str
    tolerations: list[Toleration]
    hostAliases: list[HostAlias]
    priorityClassName: str
    priority: int
    preemptionPolicy: str
    readinessGates: list[PodReadinessGate]
    runtimeClassName: str
    enableServiceLinks: bool
    overhead: dict[str, str]
    topologySpreadConstraints: list[TopologySpreadConstraint]
    os: PodOS
    schedulingGates: list[PodSchedulingGate]
    resourceClaims: list[PodResourceClaim]
    resources: ResourceRequirements
    evictionResponders: list[dict[str, Any]]
    schedulingGroup: dict[str, Any]


class Pod(TypedDict, total=False):
    """A pod, as the node hands it to the provider and as the provider hands it back."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus
