"""What the pod controller remembers about each pod of the node, between queue passes."""

from __future__ import annotations

from typing import Any, final

import attrs

__all__ = ["PodState", "StatusWrite"]


@final
@attrs.frozen
class StatusWrite:
    """Our last status write for a pod: what we wanted, what the server then had.

    ``rv_before`` is the resourceVersion our informer cache had when we wrote: while the cache still
    shows it, the cache is older than our write and ``result`` is the better view of the server.
    """

    uid: str
    desired: dict[str, Any]
    result: dict[str, Any]
    rv_before: str


@final
@attrs.define
class PodState:
    """Per-pod memory: the provider's latest report and our last successful sync and write."""

    provider_pod: dict[str, Any] | None = None
    """The last pod (with ``status``) the provider reported."""
    last_synced: dict[str, Any] | None = None
    """The API pod as of the last successful pass through the provider."""
    last_write: StatusWrite | None = None
    """Our last status write, to recognise its echo and skip repeats."""
