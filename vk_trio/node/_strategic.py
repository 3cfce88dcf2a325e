"""A small strategic-merge patch for the fields of a Node that the node controller writes.

Kubernetes merges lists of objects by a *merge key* (node conditions by ``type``) instead of
replacing them, and deletes map entries with ``null``. That is what lets the node controller own
its conditions, labels and annotations while other writers (the node-lifecycle controller, an
admin's ``kubectl annotate``) own theirs on the same object. The schema here is just a mapping from
field path to merge key; every other list is atomic and every dict is merged recursively, which is
what the Node type declares for the fields we touch.

:func:`three_way_merge_patch` follows the apimachinery algorithm: changes and additions are
computed against the *current* object (so nothing is sent that is already there), deletions against
the *original* (the last state we applied, so we only ever delete what we put there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "NODE_MERGE_KEYS",
    "MergeKeys",
    "apply_strategic_patch",
    "diff",
    "three_way_merge_patch",
]

MergeKeys = Mapping[tuple[str, ...], str]

NODE_MERGE_KEYS: Final[MergeKeys] = {
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
}
"""Patch merge keys of the Node fields we write (from the Kubernetes ``Node`` type)."""

_DIRECTIVE = "$patch"
_MISSING: Final = object()


def _is_keyed_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


def diff(
    original: Mapping[str, Any],
    modified: Mapping[str, Any],
    merge_keys: MergeKeys,
    *,
    ignore_deletions: bool = False,
    ignore_changes_and_additions: bool = False,
    path: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The strategic-merge patch that turns ``original`` into ``modified``.

    ``ignore_deletions`` leaves out what ``modified`` lacks; ``ignore_changes_and_additions`` keeps
    *only* the deletions. Both off gives a complete two-way patch.
    """
    patch: dict[str, Any] = {}
    for key, new in modified.items():
        old = original.get(key, _MISSING)
        if old is _MISSING:
            if not ignore_changes_and_additions:
                patch[key] = new
            continue
        if old == new:
            continue
        sub_path = (*path, key)
        merge_key = merge_keys.get(sub_path)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            sub = diff(
                old,
                new,
                merge_keys,
                ignore_deletions=ignore_deletions,
                ignore_changes_and_additions=ignore_changes_and_additions,
                path=sub_path,
            )
            if sub:
                patch[key] = sub
        elif merge_key is not None and _is_keyed_list(old) and _is_keyed_list(new):
            items = _diff_keyed_list(
                old,
                new,
                merge_key,
                merge_keys,
                sub_path,
                ignore_deletions=ignore_deletions,
                ignore_changes_and_additions=ignore_changes_and_additions,
            )
            if items:
                patch[key] = items
        elif not ignore_changes_and_additions:
            patch[key] = new
    if not ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    return patch


def _diff_keyed_list(
    original: Sequence[Mapping[str, Any]],
    modified: Sequence[Mapping[str, Any]],
    merge_key: str,
    merge_keys: MergeKeys,
    path: tuple[str, ...],
    *,
    ignore_deletions: bool,
    ignore_changes_and_additions: bool,
) -> list[dict[str, Any]]:
    by_key = {item.get(merge_key): item for item in original}
    seen = set()
    items: list[dict[str, Any]] = []
    for new in modified:
        identity = new.get(merge_key)
        seen.add(identity)
        old = by_key.get(identity)
        if old is None:
            if not ignore_changes_and_additions:
                items.append(dict(new))
            continue
        sub = diff(
            old,
            new,
            merge_keys,
            ignore_deletions=ignore_deletions,
            ignore_changes_and_additions=ignore_changes_and_additions,
            path=path,
        )
        if sub:
            items.append({merge_key: identity, **sub})
    if not ignore_deletions:
        for identity in by_key:
            if identity not in seen:
                items.append({merge_key: identity, _DIRECTIVE: "delete"})
    return items


def _merge_patches(
    first: Mapping[str, Any],
    second: Mapping[str, Any],
    merge_keys: MergeKeys,
    path: tuple[str, ...],
) -> dict[str, Any]:
    """Combine two patches; ``second`` wins where they touch the same scalar."""
    out = dict(first)
    for key, value in second.items():
        current = out.get(key, _MISSING)
        sub_path = (*path, key)
        merge_key = merge_keys.get(sub_path)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = _merge_patches(current, value, merge_keys, sub_path)
        elif merge_key is not None and isinstance(current, list) and isinstance(value, list):
            by_key = {item.get(merge_key): index for index, item in enumerate(current)}
            merged = list(current)
            for item in value:
                index = by_key.get(item.get(merge_key))
                if index is None:
                    merged.append(item)
                else:
                    merged[index] = _merge_patches(merged[index], item, merge_keys, sub_path)
            out[key] = merged
        else:
            out[key] = value
    return out


def three_way_merge_patch(
    original: Mapping[str, Any],
    modified: Mapping[str, Any],
    current: Mapping[str, Any],
    merge_keys: MergeKeys = NODE_MERGE_KEYS,
) -> dict[str, Any]:
    """The patch that brings ``current`` to ``modified`` while deleting only what ``original``
    (our last applied state) had and ``modified`` dropped. Others' additions survive."""
    changes = diff(current, modified, merge_keys, ignore_deletions=True)
    deletions = diff(original, modified, merge_keys, ignore_changes_and_additions=True)
    return _merge_patches(deletions, changes, merge_keys, ())


def apply_strategic_patch(
    obj: Mapping[str, Any],
    patch: Mapping[str, Any],
    merge_keys: MergeKeys = NODE_MERGE_KEYS,
    path: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Apply a patch made by this module or the pod status patch (``$patch: replace`` in a
    list replaces it whole); used by tests and in-memory fakes of the API."""
    result = dict(obj)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub_path = (*path, key)
        merge_key = merge_keys.get(sub_path)
        current = result.get(key)
        if isinstance(value, Mapping):
            base = current if isinstance(current, Mapping) else {}
            result[key] = apply_strategic_patch(base, value, merge_keys, sub_path)
        elif isinstance(value, list) and {_DIRECTIVE: "replace"} in value:
            result[key] = [item for item in value if item != {_DIRECTIVE: "replace"}]
        elif merge_key is not None and isinstance(value, list):
            result[key] = _apply_keyed_list(
                current if isinstance(current, list) else [], value, merge_key, merge_keys, sub_path
            )
        else:
            result[key] = value
    return result


def _apply_keyed_list(
    current: list[Any],
    patch: list[Any],
    merge_key: str,
    merge_keys: MergeKeys,
    path: tuple[str, ...],
) -> list[Any]:
    items = list(current)
    for entry in patch:
        identity = entry.get(merge_key)
        index = next((i for i, item in enumerate(items) if item.get(merge_key) == identity), None)
        if entry.get(_DIRECTIVE) == "delete":
            if index is not None:
                del items[index]
        elif index is None:
            items.append(apply_strategic_patch({}, entry, merge_keys, path))
        else:
            items[index] = apply_strategic_patch(items[index], entry, merge_keys, path)
    return items
