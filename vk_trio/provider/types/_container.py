"""A container: image, command, ports, environment, mounts, probes, lifecycle, resources and
security settings, as a provider reads them from ``spec.containers``."""

from __future__ import annotations

from typing import TypedDict

from ._meta import (
    ConfigMapKeySelector,
    ObjectFieldSelector,
    ResourceFieldSelector,
    SecretKeySelector,
)

__all__ = [
    "AppArmorProfile",
    "Capabilities",
    "ConfigMapEnvSource",
    "Container",
    "ContainerPort",
    "ContainerResizePolicy",
    "ContainerRestartRule",
    "ContainerRestartRuleOnExitCodes",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EphemeralContainer",
    "ExecAction",
    "FileKeySelector",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "Lifecycle",
    "LifecycleHandler",
    "Probe",
    "ResourceClaim",
    "ResourceRequirements",
    "SELinuxOptions",
    "SeccompProfile",
    "SecretEnvSource",
    "SecurityContext",
    "SleepAction",
    "TCPSocketAction",
    "VolumeDevice",
    "VolumeMount",
    "WindowsSecurityContextOptions",
]


class ContainerPort(TypedDict, total=False):
    """A port the container listens on (informational to Kubernetes; ``protocol`` TCP/UDP/SCTP)."""

    name: str
    containerPort: int
    hostPort: int
    hostIP: str
    protocol: str


class FileKeySelector(TypedDict, total=False):
    """A key in an env file on a volume (``valueFrom.fileKeyRef``)."""

    volumeName: str
    path: str
    key: str
    optional: bool


class EnvVarSource(TypedDict, total=False):
    """Where an ``env`` value comes from; resolved by the node before the provider sees the pod
    (unless resolution is turned off), so a provider usually sees plain ``value`` s."""

    fieldRef: ObjectFieldSelector
    resourceFieldRef: ResourceFieldSelector
    configMapKeyRef: ConfigMapKeySelector
    secretKeyRef: SecretKeySelector
    fileKeyRef: FileKeySelector


class EnvVar(TypedDict, total=False):
    """One environment variable: ``value`` (after resolution) or ``valueFrom``."""

    name: str
    value: str
    valueFrom: EnvVarSource


class ConfigMapEnvSource(TypedDict, total=False):
    """Every key of a ConfigMap as variables."""

    name: str
    optional: bool


class SecretEnvSource(TypedDict, total=False):
    """Every key of a Secret as variables."""

    name: str
    optional: bool


class EnvFromSource(TypedDict, total=False):
    """``envFrom`` entry: variables from a ConfigMap or Secret, each name prefixed."""

    prefix: str
    configMapRef: ConfigMapEnvSource
    secretRef: SecretEnvSource


class VolumeMount(TypedDict, total=False):
    """Where a pod volume (by ``name``) appears in the container's file system."""

    name: str
    mountPath: str
    subPath: str
    subPathExpr: str
    readOnly: bool
    recursiveReadOnly: str
    mountPropagation: str
    bindMountOptions: list[str]


class VolumeDevice(TypedDict, total=False):
    """A raw block volume mapped to ``devicePath``."""

    name: str
    devicePath: str


class ExecAction(TypedDict, total=False):
    """Run ``command`` in the container; exit 0 is success."""

    command: list[str]


class HTTPHeader(TypedDict, total=False):
    """One header of an HTTP probe."""

    name: str
    value: str


class HTTPGetAction(TypedDict, total=False):
    """GET ``scheme``://``host``:``port````path``; 200-399 is success.  ``port`` is a number or
    the name of a container port."""

    path: str
    port: int | str
    host: str
    scheme: str
    httpHeaders: list[HTTPHeader]
    protocol: str


class TCPSocketAction(TypedDict, total=False):
    """Open a TCP connection to ``port`` (number or port name); connecting is success."""

    port: int | str
    host: str


class GRPCAction(TypedDict, total=False):
    """The gRPC health-checking protocol on ``port``, for ``service`` (empty: the server)."""

    port: int
    service: str
    mode: str


class SleepAction(TypedDict, total=False):
    """Sleep ``seconds`` (a lifecycle hook that only delays)."""

    seconds: int


class Probe(TypedDict, total=False):
    """A liveness, readiness or startup probe: one action and its timing (seconds)."""

    exec: ExecAction
    httpGet: HTTPGetAction
    tcpSocket: TCPSocketAction
    grpc: GRPCAction
    initialDelaySeconds: int
    timeoutSeconds: int
    periodSeconds: int
    successThreshold: int
    failureThreshold: int
    terminationGracePeriodSeconds: int


class LifecycleHandler(TypedDict, total=False):
    """A ``postStart``/``preStop`` hook: one action."""

    exec: ExecAction
    httpGet: HTTPGetAction
    tcpSocket: TCPSocketAction
    sleep: SleepAction


class Lifecycle(TypedDict, total=False):
    """Hooks run after the container started and before it is stopped."""

    postStart: LifecycleHandler
    preStop: LifecycleHandler
    stopSignal: str


class ResourceClaim(TypedDict, total=False):
    """A dynamic resource claim of the pod that this container uses."""

    name: str
    request: str


class ResourceRequirements(TypedDict, total=False):
    """Quantities by resource name (``cpu``: ``"500m"``, ``memory``: ``"128Mi"``, ...)."""

    limits: dict[str, str]
    requests: dict[str, str]
    claims: list[ResourceClaim]


class ContainerResizePolicy(TypedDict, total=False):
    """Whether resizing ``resourceName`` in place restarts the container."""

    resourceName: str
    restartPolicy: str


class ContainerRestartRuleOnExitCodes(TypedDict, total=False):
    """Exit codes a restart rule matches (``operator`` ``In`` / ``NotIn``)."""

    operator: str
    values: list[int]


class ContainerRestartRule(TypedDict, total=False):
    """A per-container restart rule (``action`` ``Restart``) on matching exit codes."""

    action: str
    exitCodes: ContainerRestartRuleOnExitCodes


class Capabilities(TypedDict, total=False):
    """Linux capabilities added to and dropped from the default set."""

    add: list[str]
    drop: list[str]


class SELinuxOptions(TypedDict, total=False):
    """The SELinux label."""

    user: str
    role: str
    type: str
    level: str


class SeccompProfile(TypedDict, total=False):
    """``type``: ``RuntimeDefault``, ``Unconfined`` or ``Localhost`` (with ``localhostProfile``)."""

    type: str
    localhostProfile: str


class AppArmorProfile(TypedDict, total=False):
    """``type``: ``RuntimeDefault``, ``Unconfined`` or ``Localhost`` (with ``localhostProfile``)."""

    type: str
    localhostProfile: str


class WindowsSecurityContextOptions(TypedDict, total=False):
    """Windows-specific identity settings."""

    gmsaCredentialSpecName: str
    gmsaCredentialSpec: str
    runAsUserName: str
    hostProcess: bool


class SecurityContext(TypedDict, total=False):
    """A container's security settings (override the pod's where both are set)."""

    capabilities: Capabilities
    privileged: bool
    seLinuxOptions: SELinuxOptions
    windowsOptions: WindowsSecurityContextOptions
    runAsUser: int
    runAsGroup: int
    runAsNonRoot: bool
    readOnlyRootFilesystem: bool
    allowPrivilegeEscalation: bool
    procMount: str
    seccompProfile: SeccompProfile
    appArmorProfile: AppArmorProfile


class Container(TypedDict, total=False):
    """One container of ``spec.containers`` / ``spec.initContainers``.

    ``restartPolicy: Always`` on an init container makes it a sidecar.
    """

    name: str
    image: str
    imagePullPolicy: str
    command: list[str]
    args: list[str]
    workingDir: str
    ports: list[ContainerPort]
    env: list[EnvVar]
    envFrom: list[EnvFromSource]
    resources: ResourceRequirements
    resizePolicy: list[ContainerResizePolicy]
    restartPolicy: str
    restartPolicyRules: list[ContainerRestartRule]
    volumeMounts: list[VolumeMount]
    volumeDevices: list[VolumeDevice]
    livenessProbe: Probe
    readinessProbe: Probe
    startupProbe: Probe
    lifecycle: Lifecycle
    terminationMessagePath: str
    terminationMessagePolicy: str
    securityContext: SecurityContext
    stdin: bool
    stdinOnce: bool
    tty: bool


class EphemeralContainer(Container, total=False):
    """A debugging container (``kubectl debug``), possibly sharing ``targetContainerName``'s
    process namespace."""

    targetContainerName: str
