"""Pure predicates over pod dicts: equality, "should the provider hear about this", "running".

Equality treats absent, ``None``, ``""``, ``{}`` and ``[]`` as the same thing. The Go version uses
typed deep equality where a nil map differs from an empty one, so a provider that normalises such
fields gets a spurious ``UpdatePod`` on every sync; dicts from JSON make the distinction even more
arbitrary (the API server omits empty fields, a provider may not). ``0`` and ``false`` stay
significant: for pointer fields they differ from absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "is_running",
    "normalized",
    "pod_key",
    "pod_should_enqueue",
    "pods_effectively_equal",
    "pods_equal",
    "semantically_equal",
]

_COMPARED_SPEC = ("containers", "initContainers", "ephemeralContainers")
_COMPARED_SPEC_SCALARS = ("activeDeadlineSeconds", "tolerations")


def normalized(value: Any) -> Any:
    """``value`` with every empty field removed, recursively.

    Lists keep their length; an empty item of a list becomes ``None``.
    """
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            clean = normalized(item)
            if clean is None or clean in ("", {}, []):
                continue
            out[key] = clean
        return out
    if isinstance(value, list | tuple):
        items = [normalized(item) for item in value]
        return [None if item in ("", {}, []) else item for item in items]
    return value


def _is_empty(value: Any) -> bool:
    return normalized(value) in (None, "", {}, [])


def semantically_equal(left: Any, right: Any) -> bool:
    """Deep equality with absent/``None``/``""``/``{}``/``[]`` all equal.

    Walks both values together and stops at the first real difference, so only the parts that
    differ byte-wise are ever normalised (the hot path compares whole pods).
    """
    if left is right or left == right:  # the common case, at C speed
        return True
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        for key in left.keys() | right.keys():
            if not semantically_equal(left.get(key), right.get(key)):
                return False
        return True
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            semantically_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return _is_empty(left) and _is_empty(right)


def pod_key(pod: Mapping[str, Any]) -> str:
    """``namespace/name``, the key of the sync and status queues."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    name = meta.get("name") or ""
    return f"{namespace}/{name}" if namespace else name


def _env_sort_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(entry.get("name", "")), str(entry.get("value", "")), repr(entry))


def _raw_view(pod: Mapping[str, Any]) -> dict[str, Any]:
    spec: Mapping[str, Any] = pod.get("spec") or {}
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    return {
        **{field: spec.get(field) for field in _COMPARED_SPEC + _COMPARED_SPEC_SCALARS},
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
    }


def _compared(pod: Mapping[str, Any], sort_env: bool) -> Any:
    view = normalized(_raw_view(pod))
    if sort_env:
        for field in _COMPARED_SPEC:
            for container in view.get(field, ()):
                if "env" in container:
                    container["env"].sort(key=_env_sort_key)
    return view


def pods_equal(
    left: Mapping[str, Any], right: Mapping[str, Any], *, sort_env: bool = False
) -> bool:
    """Whether the provider would see no difference between two versions of a pod.

    Compares what a provider acts on: the containers (all three kinds), ``activeDeadlineSeconds``,
    ``tolerations``, labels and annotations. ``sort_env`` compares each container's ``env`` as a
    set, for when one side was produced by env resolution (whose order is not meaningful).
    """
    if _raw_view(left) == _raw_view(right):  # most updates change neither: no normalising
        return True
    return bool(_compared(left, sort_env) == _compared(right, sort_env))


def pod_should_enqueue(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether an informer update must reach the provider (status-only changes never do)."""
    if not pods_equal(old, new):
        return True
    old_meta: Mapping[str, Any] = old.get("metadata") or {}
    new_meta: Mapping[str, Any] = new.get("metadata") or {}
    return old_meta.get("deletionGracePeriodSeconds") != new_meta.get(
        "deletionGracePeriodSeconds"
    ) or old_meta.get("deletionTimestamp") != new_meta.get("deletionTimestamp")


def _without_volatile(pod: Mapping[str, Any]) -> dict[str, Any]:
    meta = {
        key: value
        for key, value in (pod.get("metadata") or {}).items()
        if key not in ("resourceVersion", "managedFields")
    }
    return {
        **{key: value for key, value in pod.items() if key != "status"},
        "metadata": meta,
    }


def pods_effectively_equal(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """The whole object, ignoring ``resourceVersion``, ``managedFields`` and ``status``."""
    return semantically_equal(_without_volatile(left), _without_volatile(right))


def is_running(status: Mapping[str, Any] | None) -> bool:
    """Whether any container is running (a container state that is neither waiting nor
    terminated counts as running, init containers do not count). No statuses → ``False``."""
    for container in (status or {}).get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("terminated") is None and state.get("waiting") is None:
            return True
    return False
