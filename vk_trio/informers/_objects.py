"""Small helpers about API objects as plain dicts: cache keys, tombstones, the default transform.

Objects stay the JSON dicts the API server sent (see docs/architecture.md); these helpers only read
the few ``metadata`` fields the cache needs, so they cost next to nothing on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, final

import attrs

Object: TypeAlias = dict[str, Any]
"""An API object as the API server sent it (orjson-parsed JSON)."""

KeyFunc: TypeAlias = Callable[[Mapping[str, Any]], str]
Transform: TypeAlias = Callable[[Object], Object]
IndexFunc: TypeAlias = Callable[[Mapping[str, Any]], list[str]]

NAMESPACE_INDEX = "namespace"
"""Name of the index every :class:`~vk_trio.informers.Store` carries (objects by namespace)."""


class ObjectKeyError(ValueError):
    """An object has no ``metadata.name`` (so no cache key), or a key string is malformed."""


@final
@attrs.frozen
class DeletedFinalStateUnknown:
    """Tombstone handed to delete handlers when a deletion was noticed only at a relist.

    While the watch was broken the object was deleted, and the API server no longer remembers the
    deletion event (its history was compacted, or the watch cache restarted), so the informer only
    learns that the key is gone. ``obj`` is the last state the cache had: it may be stale.
    """

    key: str
    obj: Object


def meta_namespace_key(obj: Mapping[str, Any] | DeletedFinalStateUnknown) -> str:
    """``"<namespace>/<name>"``, or ``"<name>"`` for cluster-scoped objects.

    A tombstone yields the key it carries, so the same function works on delete notifications.
    """
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise ObjectKeyError("object has no metadata")
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise ObjectKeyError("object has no metadata.name")
    namespace = meta.get("namespace")
    if namespace:
        return f"{namespace}/{name}"
    return name


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`meta_namespace_key`: ``(namespace, name)``, namespace ``""`` if none."""
    parts = key.split("/")
    if len(parts) == 1 and parts[0]:
        return "", parts[0]
    if len(parts) == 2 and parts[1]:
        return parts[0], parts[1]
    raise ObjectKeyError(f"unexpected key format: {key!r}")


def namespace_index_func(obj: Mapping[str, Any]) -> list[str]:
    """Index function of the built-in ``namespace`` index (``""`` for cluster-scoped objects)."""
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        namespace = meta.get("namespace")
        if isinstance(namespace, str):
            return [namespace]
    return [""]


def resource_version_of(obj: Mapping[str, Any]) -> str:
    """``metadata.resourceVersion`` or ``""``."""
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        rv = meta.get("resourceVersion")
        if isinstance(rv, str):
            return rv
    return ""


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.labels`` or an empty mapping."""
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        labels = meta.get("labels")
        if isinstance(labels, Mapping):
            return labels
    return {}


def strip_managed_fields(obj: Object) -> Object:
    """The default cache transform: drop ``metadata.managedFields`` (in place) and return ``obj``.

    Server-side-apply bookkeeping is often the largest part of an object and no controller reading
    the cache needs it; dropping it roughly halves the memory of a cached pod (see
    docs/informers.md for the measured figure). The object is fresh from the JSON parser and owned
    by the cache, so mutating it saves a copy.
    """
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def identity(obj: Object) -> Object:
    """A transform that keeps objects as they are (pass as ``transform=`` to keep managedFields)."""
    return obj
