"""The labels and annotations on every remote object, and what they are for.

``vk-trio.io/node`` scopes everything a virtual node does in the remote cluster: its informers
select by it, its garbage collection only ever deletes objects carrying its own value, so several
virtual nodes (of one or several home clusters) can share a remote cluster.  The origin labels and
annotations say which home object a remote one stands for: the pod's (or ConfigMap's/Secret's)
namespace, name and UID.  Names go in annotations only (they may be longer than a label value);
namespace and UID are labels too, for selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "KIND_LABEL",
    "MANAGED_BY_LABEL",
    "NODE_LABEL",
    "ORIGIN_NAMESPACE_ANNOTATION",
    "ORIGIN_NAMESPACE_LABEL",
    "ORIGIN_NAME_ANNOTATION",
    "ORIGIN_RESOURCE_VERSION_ANNOTATION",
    "ORIGIN_UID_ANNOTATION",
    "ORIGIN_UID_LABEL",
    "origin_of",
    "ownership",
]

NODE_LABEL: Final = "vk-trio.io/node"
ORIGIN_NAMESPACE_LABEL: Final = "vk-trio.io/origin-namespace"
ORIGIN_UID_LABEL: Final = "vk-trio.io/origin-uid"
ORIGIN_NAMESPACE_ANNOTATION: Final = "vk-trio.io/origin-namespace"
ORIGIN_NAME_ANNOTATION: Final = "vk-trio.io/origin-name"
ORIGIN_UID_ANNOTATION: Final = "vk-trio.io/origin-uid"
ORIGIN_RESOURCE_VERSION_ANNOTATION: Final = "vk-trio.io/origin-resource-version"
#: On reflected ConfigMaps/Secrets: ``reflected`` (a copy of a home object) or ``token``.
KIND_LABEL: Final = "vk-trio.io/kind"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"


def ownership(
    node: str, namespace: str, name: str, uid: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The ``(labels, annotations)`` that tie a remote object to ``node`` and its home origin."""
    labels = {
        NODE_LABEL: node,
        ORIGIN_NAMESPACE_LABEL: namespace,
        ORIGIN_UID_LABEL: uid,
        MANAGED_BY_LABEL: "vk-trio",
    }
    annotations = {
        ORIGIN_NAMESPACE_ANNOTATION: namespace,
        ORIGIN_NAME_ANNOTATION: name,
        ORIGIN_UID_ANNOTATION: uid,
    }
    return labels, annotations


def origin_of(obj: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(namespace, name, uid)`` of the home object a remote object stands for, if it says."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    namespace = annotations.get(ORIGIN_NAMESPACE_ANNOTATION)
    name = annotations.get(ORIGIN_NAME_ANNOTATION)
    uid = annotations.get(ORIGIN_UID_ANNOTATION)
    if not (namespace and name and uid):
        return None
    return str(namespace), str(name), str(uid)
