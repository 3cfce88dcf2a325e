"""Pod status writes: a strategic merge patch of ``pods/<name>/status`` touching only our fields.

The Go version PUTs the provider's whole pod object on the status subresource, which also writes
labels, annotations and finalizers: a provider holding a stale copy silently undoes a user's
``kubectl label``. We send only ``status``, and only the difference between what the API server
has and what the provider reports (absent, ``null``, ``{}`` and ``[]`` being the same), so an
unchanged status costs no request at all.

The status has other writers besides the node, so the patch stays inside the node's domain, the
fields a kubelet writes (:data:`PROVIDER_STATUS_FIELDS`). Everything else (``nominatedNodeName``
from the scheduler, ``resize``, ``resourceClaimStatuses``, fields added by newer API servers) is
never written, whatever the provider reports, and a change to it by someone else does not make
the node write. Inside the domain, a field the provider leaves out is removed (a ``reason`` from
an earlier failure must not stick), except ``qosClass``, which the API server sets on create.

Conditions are shared with other controllers (see :mod:`._pod_conditions`), so the patch is a
*strategic* merge patch: the API server merges ``status.conditions`` by ``type``, and we send
only the entries of our own types that changed (``$patch: delete`` for one the provider no
longer reports). A JSON merge patch can only replace the whole list, which loses a readiness-gate
or ``DisruptionTarget`` condition written between our read and our write. ``podIPs`` and
``hostIPs`` are merged by ``ip`` on the server; ours replace them whole (``$patch: replace``),
since the first entry must stay the primary address. Other lists (container statuses) are
atomic in the Pod schema and are replaced as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from vk_trio.util import Now, utc_now

from ._pod_conditions import KUBELET_CONDITION_TYPES, desired_conditions
from ._podutil import normalized

__all__ = [
    "PRESERVED_STATUS_FIELDS",
    "PROVIDER_STATUS_FIELDS",
    "desired_status",
    "merge_patch",
    "status_patch",
]

PROVIDER_STATUS_FIELDS: Final = (
    "phase",
    "conditions",
    "message",
    "reason",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
    "ephemeralContainerStatuses",
    "qosClass",
)
"""The ``status`` fields the provider reports and the node writes; no other field is touched."""

PRESERVED_STATUS_FIELDS: Final = ("qosClass",)
"""Fields of the domain the API server fills in: kept when the provider leaves them out."""

_REPLACED_KEYED_LISTS: Final = ("podIPs", "hostIPs")
_CONDITION_KEY: Final = "type"


def merge_patch(current: Any, desired: Any) -> Any:
    """The RFC 7386 merge patch taking normalised ``current`` to normalised ``desired``.

    Returns ``None`` when they are equal. Lists are replaced whole, as merge patches do.
    """
    if isinstance(current, Mapping) and isinstance(desired, Mapping):
        patch: dict[str, Any] = {}
        for key, value in desired.items():
            if key not in current:
                patch[key] = value
            else:
                sub = merge_patch(current[key], value)
                if sub is not None:
                    patch[key] = sub
        for key in current:
            if key not in desired:
                patch[key] = None
        return patch or None
    if current == desired:
        return None
    return desired


def desired_status(
    current: Mapping[str, Any],
    provider: Mapping[str, Any],
    readiness_gates: Sequence[str] = (),
    now: Now = utc_now,
) -> dict[str, Any]:
    """The status to converge to: ``current`` with the provider's values in the node's domain.

    Fields outside :data:`PROVIDER_STATUS_FIELDS` are ``current``'s; inside, the provider's (a
    field it left out is dropped, except :data:`PRESERVED_STATUS_FIELDS`); conditions as
    :func:`~._pod_conditions.desired_conditions` merges them.
    """
    desired = {key: value for key, value in current.items() if key not in PROVIDER_STATUS_FIELDS}
    for field in PROVIDER_STATUS_FIELDS:
        if field in provider:
            desired[field] = provider[field]
        elif field in PRESERVED_STATUS_FIELDS and field in current:
            desired[field] = current[field]
    conditions = desired_conditions(
        current.get("conditions") or (),
        provider.get("conditions") or (),
        readiness_gates,
        now,
    )
    if conditions:
        desired["conditions"] = conditions
    else:
        desired.pop("conditions", None)
    return desired


def _unchanged(current: Mapping[str, Any], provider: Mapping[str, Any]) -> bool:
    """A quick, exact check that :func:`desired_status` would return ``current`` (no gates).

    ``False`` only means "look closer": the full comparison follows.
    """
    for field in PROVIDER_STATUS_FIELDS:
        if field == "conditions":
            continue
        if field in provider:
            if field not in current or current[field] != provider[field]:
                return False
        elif field in current and field not in PRESERVED_STATUS_FIELDS:
            return False
    mine: dict[Any, Any] = {}
    for condition in current.get("conditions") or ():
        if type(condition) is not dict:
            return False
        if condition.get("type") in KUBELET_CONDITION_TYPES:
            mine[condition["type"]] = condition
    matched = 0
    for condition in provider.get("conditions") or ():
        if type(condition) is not dict:
            return False
        kind = condition.get("type")
        if kind not in KUBELET_CONDITION_TYPES:
            continue
        old = mine.get(kind)
        if old is None or not _same_condition(old, condition):
            return False
        matched += 1
    # every owned condition on the object is reported (else it is deleted), but PodScheduled
    return matched == len(mine) or (
        matched == len(mine) - 1
        and "PodScheduled" in mine
        and not any(
            type(c) is dict and c.get("type") == "PodScheduled"
            for c in provider.get("conditions") or ()
        )
    )


def _same_condition(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``new`` as written would leave ``old`` as it is (a missing transition time is kept)."""
    if "lastTransitionTime" not in new:
        return len(old) - ("lastTransitionTime" in old) == len(new) and all(
            old.get(key) == value for key, value in new.items()
        )
    return old == new


def _conditions_patch(current: Sequence[Any], desired: Sequence[Any]) -> list[Any] | None:
    """The ``conditions`` entries of a strategic merge patch: changed ones by ``type``."""
    old = {c.get(_CONDITION_KEY): c for c in current if isinstance(c, Mapping)}
    new = {c.get(_CONDITION_KEY): c for c in desired if isinstance(c, Mapping)}
    entries: list[Any] = []
    for kind, condition in new.items():
        sub = merge_patch(old.get(kind, {}), condition)
        if sub is not None:
            entries.append({**sub, _CONDITION_KEY: kind})
    entries.extend({_CONDITION_KEY: kind, "$patch": "delete"} for kind in old if kind not in new)
    return entries or None


def _strategic_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in {*current, *desired}:
        if key not in desired:
            patch[key] = None
        elif key == "conditions":
            entries = _conditions_patch(current.get(key) or (), desired[key])
            if entries is not None:
                patch[key] = entries
        elif key in _REPLACED_KEYED_LISTS:
            if current.get(key) != desired[key]:
                patch[key] = [*desired[key], {"$patch": "replace"}]
        else:
            sub = merge_patch(current.get(key), desired[key]) if key in current else desired[key]
            if sub is not None:
                patch[key] = sub
    return patch


def status_patch(
    current: Mapping[str, Any] | None,
    provider: Mapping[str, Any],
    readiness_gates: Sequence[str] = (),
    now: Now = utc_now,
) -> dict[str, Any] | None:
    """The ``{"status": ...}`` strategic merge patch for the status subresource, or ``None``
    when the API server already has what the node wants."""
    current = current or {}
    if not readiness_gates and _unchanged(current, provider):
        return None  # the common case: no copies, no normalising
    if desired_status(current, provider, readiness_gates, now) == current:
        return None
    current_status = normalized(dict(current))
    wanted = normalized(desired_status(current_status, provider, readiness_gates, now))
    patch = _strategic_patch(current_status, wanted)
    return {"status": patch} if patch else None
