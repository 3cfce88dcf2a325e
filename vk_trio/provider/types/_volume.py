"""A pod volume and its sources.

The sources a virtual node is likely to serve are typed field by field (empty dirs, ConfigMaps,
Secrets, the downward API, projected volumes including service-account tokens, host paths,
claims, images, ephemeral volumes, NFS, CSI).  The legacy in-tree cloud sources are plain dicts:
a provider that supports one reads it as the Kubernetes documentation describes.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ._meta import (
    LabelSelector,
    LocalObjectReference,
    ObjectFieldSelector,
    ResourceFieldSelector,
)

__all__ = [
    "CSIVolumeSource",
    "ClusterTrustBundleProjection",
    "ConfigMapProjection",
    "ConfigMapVolumeSource",
    "DownwardAPIProjection",
    "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource",
    "EmptyDirVolumeSource",
    "EphemeralVolumeSource",
    "HostPathVolumeSource",
    "ImageVolumeSource",
    "KeyToPath",
    "NFSVolumeSource",
    "PersistentVolumeClaimVolumeSource",
    "PodCertificateProjection",
    "ProjectedVolumeSource",
    "SecretProjection",
    "SecretVolumeSource",
    "ServiceAccountTokenProjection",
    "Volume",
    "VolumeProjection",
]


class KeyToPath(TypedDict, total=False):
    """Put ``key`` at relative ``path`` (with file ``mode``) instead of at a file named ``key``."""

    key: str
    path: str
    mode: int
    user: int


class EmptyDirVolumeSource(TypedDict, total=False):
    """A scratch directory for the pod's lifetime (``medium: Memory`` for tmpfs)."""

    medium: str
    sizeLimit: str
    mode: int


class ConfigMapVolumeSource(TypedDict, total=False):
    """A ConfigMap's keys as files."""

    name: str
    items: list[KeyToPath]
    defaultMode: int
    defaultUser: int
    optional: bool


class SecretVolumeSource(TypedDict, total=False):
    """A Secret's keys as files (note: ``secretName``, not ``name``)."""

    secretName: str
    items: list[KeyToPath]
    defaultMode: int
    defaultUser: int
    optional: bool


class DownwardAPIVolumeFile(TypedDict, total=False):
    """One file holding a pod field or a container resource."""

    path: str
    fieldRef: ObjectFieldSelector
    resourceFieldRef: ResourceFieldSelector
    mode: int
    user: int


class DownwardAPIVolumeSource(TypedDict, total=False):
    """Pod fields and resources as files."""

    items: list[DownwardAPIVolumeFile]
    defaultMode: int
    defaultUser: int


class ServiceAccountTokenProjection(TypedDict, total=False):
    """A bound service-account token at ``path``, for ``audience``, renewed before it expires
    (``expirationSeconds``, default 3600)."""

    audience: str
    expirationSeconds: int
    path: str
    user: int


class ConfigMapProjection(TypedDict, total=False):
    """A ConfigMap inside a projected volume."""

    name: str
    items: list[KeyToPath]
    optional: bool


class SecretProjection(TypedDict, total=False):
    """A Secret inside a projected volume (``name`` here, unlike the Secret volume)."""

    name: str
    items: list[KeyToPath]
    optional: bool


class DownwardAPIProjection(TypedDict, total=False):
    """Downward-API files inside a projected volume."""

    items: list[DownwardAPIVolumeFile]


class ClusterTrustBundleProjection(TypedDict, total=False):
    """ClusterTrustBundle certificates, by name or by signer and labels, written to ``path``."""

    name: str
    signerName: str
    labelSelector: LabelSelector
    optional: bool
    path: str
    user: int


class PodCertificateProjection(TypedDict, total=False):
    """A pod certificate issued by ``signerName``."""

    signerName: str
    keyType: str
    maxExpirationSeconds: int
    credentialBundlePath: str
    keyPath: str
    certificateChainPath: str
    user: int
    userAnnotations: dict[str, str]


class VolumeProjection(TypedDict, total=False):
    """One source of a projected volume: exactly one field is set."""

    serviceAccountToken: ServiceAccountTokenProjection
    configMap: ConfigMapProjection
    secret: SecretProjection
    downwardAPI: DownwardAPIProjection
    clusterTrustBundle: ClusterTrustBundleProjection
    podCertificate: PodCertificateProjection


class ProjectedVolumeSource(TypedDict, total=False):
    """Several sources in one directory (this is how the API server mounts the service-account
    token, CA bundle and namespace into ``/var/run/secrets/kubernetes.io/serviceaccount``)."""

    sources: list[VolumeProjection]
    defaultMode: int
    defaultUser: int


class HostPathVolumeSource(TypedDict, total=False):
    """A path on the host (``type``: ``Directory``, ``DirectoryOrCreate``, ``File``, ...)."""

    path: str
    type: str


class PersistentVolumeClaimVolumeSource(TypedDict, total=False):
    """The volume bound to a PersistentVolumeClaim of the pod's namespace."""

    claimName: str
    readOnly: bool


class EphemeralVolumeSource(TypedDict, total=False):
    """A claim created for the pod and deleted with it (the template is a PVC spec)."""

    volumeClaimTemplate: dict[str, Any]


class ImageVolumeSource(TypedDict, total=False):
    """An OCI image's content, read-only."""

    reference: str
    pullPolicy: str


class NFSVolumeSource(TypedDict, total=False):
    """An NFS export."""

    server: str
    path: str
    readOnly: bool


class CSIVolumeSource(TypedDict, total=False):
    """An inline volume from a CSI driver."""

    driver: str
    readOnly: bool
    fsType: str
    volumeAttributes: dict[str, str]
    nodePublishSecretRef: LocalObjectReference


class Volume(TypedDict, total=False):
    """A pod volume: ``name`` and exactly one source."""

    name: str
    emptyDir: EmptyDirVolumeSource
    configMap: ConfigMapVolumeSource
    secret: SecretVolumeSource
    downwardAPI: DownwardAPIVolumeSource
    projected: ProjectedVolumeSource
    hostPath: HostPathVolumeSource
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource
    ephemeral: EphemeralVolumeSource
    image: ImageVolumeSource
    nfs: NFSVolumeSource
    csi: CSIVolumeSource
    # in-tree sources a virtual node rarely serves: their Kubernetes JSON, untyped
    awsElasticBlockStore: dict[str, Any]
    azureDisk: dict[str, Any]
    azureFile: dict[str, Any]
    cephfs: dict[str, Any]
    cinder: dict[str, Any]
    fc: dict[str, Any]
    flexVolume: dict[str, Any]
    flocker: dict[str, Any]
    gcePersistentDisk: dict[str, Any]
    gitRepo: dict[str, Any]
    glusterfs: dict[str, Any]
    iscsi: dict[str, Any]
    photonPersistentDisk: dict[str, Any]
    portworxVolume: dict[str, Any]
    quobyte: dict[str, Any]
    rbd: dict[str, Any]
    scaleIO: dict[str, Any]
    storageos: dict[str, Any]
    vsphereVolume: dict[str, Any]
