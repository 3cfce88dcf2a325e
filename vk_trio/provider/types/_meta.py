"""Object metadata and the small reference types several kinds share."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "ConfigMapKeySelector",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LocalObjectReference",
    "ObjectFieldSelector",
    "ObjectMeta",
    "OwnerReference",
    "ResourceFieldSelector",
    "SecretKeySelector",
]


class OwnerReference(TypedDict, total=False):
    """An object this one belongs to (garbage collection follows these)."""

    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    """``metadata``: identity, labels and the deletion bookkeeping the node acts on.

    ``managedFields`` is stripped before a pod reaches a provider; it is listed so that code
    copying metadata through stays typed.
    """

    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    selfLink: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]
    managedFields: list[dict[str, Any]]


class LocalObjectReference(TypedDict, total=False):
    """An object by name in the pod's namespace (image pull secrets, ...)."""

    name: str


class ConfigMapKeySelector(TypedDict, total=False):
    """One key of a ConfigMap."""

    name: str
    key: str
    optional: bool


class SecretKeySelector(TypedDict, total=False):
    """One key of a Secret."""

    name: str
    key: str
    optional: bool


class ObjectFieldSelector(TypedDict, total=False):
    """A field of the pod (``metadata.name``, ``status.podIP``, ...)."""

    apiVersion: str
    fieldPath: str


class ResourceFieldSelector(TypedDict, total=False):
    """A container's resource limit or request (``limits.cpu``, ...), scaled by ``divisor``."""

    containerName: str
    resource: str
    divisor: str


class LabelSelectorRequirement(TypedDict, total=False):
    """``key`` ``operator`` (``In``, ``NotIn``, ``Exists``, ``DoesNotExist``) ``values``."""

    key: str
    operator: str
    values: list[str]


class LabelSelector(TypedDict, total=False):
    """Labels to match: all of ``matchLabels`` and all of ``matchExpressions``."""

    matchLabels: dict[str, str]
    matchExpressions: list[LabelSelectorRequirement]
