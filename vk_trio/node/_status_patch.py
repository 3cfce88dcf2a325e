"""Pod status writes: a JSON merge patch of ``pods/<name>/status`` carrying only the status.

The Go version PUTs the provider's whole pod object on the status subresource, which also writes
labels, annotations and finalizers: a provider holding a stale copy silently undoes a user's
``kubectl label``. We send only ``status``, and only the difference between what the API server
has and what the provider reports (absent, ``null``, ``{}`` and ``[]`` being the same), so an
unchanged status costs no request at all.

Fields the API server owns and providers do not report (``qosClass``) are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ._podutil import normalized

__all__ = ["PRESERVED_STATUS_FIELDS", "desired_status", "merge_patch", "status_patch"]

PRESERVED_STATUS_FIELDS: Final = ("qosClass",)


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


def desired_status(current: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    """The status to converge to: the provider's, plus the server-owned fields it left out."""
    desired = dict(provider)
    for field in PRESERVED_STATUS_FIELDS:
        if field not in desired and field in current:
            desired[field] = current[field]
    return desired


def status_patch(
    current: Mapping[str, Any] | None, provider: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The ``{"status": ...}`` merge patch for the status subresource, or ``None`` if equal."""
    current = current or {}
    if desired_status(current, provider) == current:  # the common case, no normalising
        return None
    current_status = normalized(dict(current))
    wanted = normalized(desired_status(current_status, provider))
    patch = merge_patch(current_status, wanted)
    return None if patch is None else {"status": patch}
