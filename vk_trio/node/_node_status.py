"""The three-way node-status patch: update what we own, keep what others wrote.

Several writers share one Node: we set conditions, labels, annotations and status; the cluster's
node-lifecycle controller, admins and other agents add their own. A plain merge patch cannot delete
a label we set earlier without also risking others' keys, and a PUT would clobber everything. So, as
the Go Virtual Kubelet does, we remember what we last applied in two annotations on the Node itself
and compute a strategic-merge patch from three states:

* *original*: what we last applied (rebuilt from ``virtual-kubelet.io/last-applied-object-meta``
  and ``virtual-kubelet.io/last-applied-node-status``; empty when either is missing or unreadable);
* *modified*: what we want now (labels, annotations, status of our working copy, plus the two
  annotations recomputed);
* *current*: the Node as the API server has it.

Only keys we applied before and no longer want are deleted; conditions merge by ``type``; labels and
annotations travel through the ``status`` subresource, which accepts metadata changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from ._strategic import three_way_merge_patch

__all__ = [
    "LAST_APPLIED_META_ANNOTATION",
    "LAST_APPLIED_STATUS_ANNOTATION",
    "last_applied",
    "node_status_patch",
    "with_last_applied",
]

LAST_APPLIED_STATUS_ANNOTATION: Final = "virtual-kubelet.io/last-applied-node-status"
LAST_APPLIED_META_ANNOTATION: Final = "virtual-kubelet.io/last-applied-object-meta"
_OURS = (LAST_APPLIED_STATUS_ANNOTATION, LAST_APPLIED_META_ANNOTATION)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def last_applied(current: Mapping[str, Any]) -> dict[str, Any]:
    """The state we last applied to ``current``, or ``{}`` if it cannot be rebuilt."""
    annotations: Mapping[str, str] = (current.get("metadata") or {}).get("annotations") or {}
    raw_meta = annotations.get(LAST_APPLIED_META_ANNOTATION)
    raw_status = annotations.get(LAST_APPLIED_STATUS_ANNOTATION)
    if not raw_meta or not raw_status:
        return {}
    try:
        meta = orjson.loads(raw_meta)
        status = orjson.loads(raw_status)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(meta, dict) or not isinstance(status, dict):
        return {}
    return {"metadata": meta, "status": status}


def _applied(
    desired: Mapping[str, Any], current_meta: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(object meta to apply incl. the two annotations, status to apply)."""
    desired_meta: Mapping[str, Any] = desired.get("metadata") or {}
    annotations = {
        key: value
        for key, value in (desired_meta.get("annotations") or {}).items()
        if key not in _OURS
    }
    meta: dict[str, Any] = {"name": current_meta.get("name", desired_meta.get("name", ""))}
    if current_meta.get("namespace"):
        meta["namespace"] = current_meta["namespace"]
    if current_meta.get("uid"):
        meta["uid"] = current_meta["uid"]
    meta["labels"] = dict(desired_meta.get("labels") or {})
    meta["annotations"] = annotations
    status = dict(desired.get("status") or {})
    applied_meta = {
        **meta,
        "annotations": {
            **annotations,
            LAST_APPLIED_META_ANNOTATION: _dumps(meta),
            LAST_APPLIED_STATUS_ANNOTATION: _dumps(status),
        },
    }
    return applied_meta, status


def with_last_applied(desired: Mapping[str, Any]) -> dict[str, Any]:
    """``desired`` with the two last-applied annotations, for creating the Node (so the first
    status patch already knows what we applied)."""
    applied_meta, _ = _applied(desired, {})
    meta = dict(desired.get("metadata") or {})
    meta["annotations"] = applied_meta["annotations"]
    return {**desired, "metadata": meta}


def node_status_patch(desired: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The strategic-merge patch for ``nodes/<name>/status`` taking ``current`` to ``desired``.

    ``desired`` is our working copy: its ``metadata.labels``, ``metadata.annotations`` and
    ``status`` are what we want the node to carry. Returns ``{}`` when nothing needs to change.
    """
    current_meta: Mapping[str, Any] = current.get("metadata") or {}
    modified_meta, status = _applied(desired, current_meta)
    modified = {"metadata": modified_meta, "status": status}
    return three_way_merge_patch(last_applied(current), modified, current)
