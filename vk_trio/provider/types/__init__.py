"""The Kubernetes JSON shapes a provider reads and writes, as ``TypedDict`` s.

A pod reaches a provider as the dict the API server sent (parsed with orjson) and leaves it as
a dict; these types only tell the type checker what keys that dict has, so
``pod["spec"]["contaners"]`` or ``{"phase": "Running", "podIp": ...}`` is an error under mypy and
costs nothing at run time
(``TypedDict`` s are plain dicts).  Every class is ``total=False``: any key may be absent, as in
the API, and keys the API adds later pass through untouched.

Names are the Kubernetes ones (``Pod``, ``PodSpec``, ``Container``, ``PodStatus``, ...), so they
live in their own namespace: ``vk_trio.provider.PodStatus`` is the frozen attrs *builder* of a
status, ``vk_trio.provider.types.PodStatus`` is the JSON shape it produces.  Import the module::

    from vk_trio.provider import types as k8s

    async def create_pod(self, pod: k8s.Pod) -> None: ...

Only the most common of them, :class:`Pod`, is also exported by :mod:`vk_trio.provider` itself.
"""

from ._container import AppArmorProfile as AppArmorProfile
from ._container import Capabilities as Capabilities
from ._container import ConfigMapEnvSource as ConfigMapEnvSource
from ._container import Container as Container
from ._container import ContainerPort as ContainerPort
from ._container import ContainerResizePolicy as ContainerResizePolicy
from ._container import ContainerRestartRule as ContainerRestartRule
from ._container import ContainerRestartRuleOnExitCodes as ContainerRestartRuleOnExitCodes
from ._container import EnvFromSource as EnvFromSource
from ._container import EnvVar as EnvVar
from ._container import EnvVarSource as EnvVarSource
from ._container import EphemeralContainer as EphemeralContainer
from ._container import ExecAction as ExecAction
from ._container import FileKeySelector as FileKeySelector
from ._container import GRPCAction as GRPCAction
from ._container import HTTPGetAction as HTTPGetAction
from ._container import HTTPHeader as HTTPHeader
from ._container import Lifecycle as Lifecycle
from ._container import LifecycleHandler as LifecycleHandler
from ._container import Probe as Probe
from ._container import ResourceClaim as ResourceClaim
from ._container import ResourceRequirements as ResourceRequirements
from ._container import SeccompProfile as SeccompProfile
from ._container import SecretEnvSource as SecretEnvSource
from ._container import SecurityContext as SecurityContext
from ._container import SELinuxOptions as SELinuxOptions
from ._container import SleepAction as SleepAction
from ._container import TCPSocketAction as TCPSocketAction
from ._container import VolumeDevice as VolumeDevice
from ._container import VolumeMount as VolumeMount
from ._container import WindowsSecurityContextOptions as WindowsSecurityContextOptions
from ._meta import ConfigMapKeySelector as ConfigMapKeySelector
from ._meta import LabelSelector as LabelSelector
from ._meta import LabelSelectorRequirement as LabelSelectorRequirement
from ._meta import LocalObjectReference as LocalObjectReference
from ._meta import ObjectFieldSelector as ObjectFieldSelector
from ._meta import ObjectMeta as ObjectMeta
from ._meta import OwnerReference as OwnerReference
from ._meta import ResourceFieldSelector as ResourceFieldSelector
from ._meta import SecretKeySelector as SecretKeySelector
from ._pod import Affinity as Affinity
from ._pod import HostAlias as HostAlias
from ._pod import Pod as Pod
from ._pod import PodDNSConfig as PodDNSConfig
from ._pod import PodDNSConfigOption as PodDNSConfigOption
from ._pod import PodOS as PodOS
from ._pod import PodReadinessGate as PodReadinessGate
from ._pod import PodResourceClaim as PodResourceClaim
from ._pod import PodSchedulingGate as PodSchedulingGate
from ._pod import PodSecurityContext as PodSecurityContext
from ._pod import PodSpec as PodSpec
from ._pod import Sysctl as Sysctl
from ._pod import Toleration as Toleration
from ._pod import TopologySpreadConstraint as TopologySpreadConstraint
from ._status import ContainerState as ContainerState
from ._status import ContainerStateRunning as ContainerStateRunning
from ._status import ContainerStateTerminated as ContainerStateTerminated
from ._status import ContainerStateWaiting as ContainerStateWaiting
from ._status import ContainerStatus as ContainerStatus
from ._status import ContainerUser as ContainerUser
from ._status import HostIP as HostIP
from ._status import LinuxContainerUser as LinuxContainerUser
from ._status import PodCondition as PodCondition
from ._status import PodIP as PodIP
from ._status import PodStatus as PodStatus
from ._status import VolumeMountStatus as VolumeMountStatus
from ._volume import ClusterTrustBundleProjection as ClusterTrustBundleProjection
from ._volume import ConfigMapProjection as ConfigMapProjection
from ._volume import ConfigMapVolumeSource as ConfigMapVolumeSource
from ._volume import CSIVolumeSource as CSIVolumeSource
from ._volume import DownwardAPIProjection as DownwardAPIProjection
from ._volume import DownwardAPIVolumeFile as DownwardAPIVolumeFile
from ._volume import DownwardAPIVolumeSource as DownwardAPIVolumeSource
from ._volume import EmptyDirVolumeSource as EmptyDirVolumeSource
from ._volume import EphemeralVolumeSource as EphemeralVolumeSource
from ._volume import HostPathVolumeSource as HostPathVolumeSource
from ._volume import ImageVolumeSource as ImageVolumeSource
from ._volume import KeyToPath as KeyToPath
from ._volume import NFSVolumeSource as NFSVolumeSource
from ._volume import PersistentVolumeClaimVolumeSource as PersistentVolumeClaimVolumeSource
from ._volume import PodCertificateProjection as PodCertificateProjection
from ._volume import ProjectedVolumeSource as ProjectedVolumeSource
from ._volume import SecretProjection as SecretProjection
from ._volume import SecretVolumeSource as SecretVolumeSource
from ._volume import ServiceAccountTokenProjection as ServiceAccountTokenProjection
from ._volume import Volume as Volume
from ._volume import VolumeProjection as VolumeProjection
