"""What the pod controller remembers about each pod of the node, between queue passes.

:class:`PodRegistry` is the one place the sync worker, the status writer and the deleter share:
the informer cache's view of the node's pods (``api``) and our own memory of each pod
(``known``). Nothing else is shared between them, so each can be read on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, final

import attrs
import orjson

from vk_trio import tracing
from vk_trio.informers import Lister

from ._podutil import pods_effectively_equal

__all__ = [
    "TERMINAL_PHASES",
    "DeleteKey",
    "PodRegistry",
    "PodState",
    "StatusWrite",
    "copy_pod",
    "meta_of",
    "share_with_cache",
    "split_key",
]

TERMINAL_PHASES: Final = ("Succeeded", "Failed")

DeleteKey = tuple[str, str]
"""An item of the delete queue: ``("ns/name", uid)`` (the UID guards against a newer pod)."""


def split_key(key: str) -> tuple[str, str]:
    """``"ns/name"`` → ``("ns", "name")``."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def meta_of(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    return meta


def copy_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy for the provider to keep (cheaper through orjson than ``copy.deepcopy``)."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(pod))
    return copied


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


@final
class PodRegistry:
    """The node's pods as the API cache shows them (``api``) and as we remember them (``known``).

    ``known`` is a plain dict on purpose: the informer handlers touch it on every event, and at
    10,000-pod bursts a method call per access is measurable.
    """

    __slots__ = ("api", "delete_trace", "known", "status_trace", "sync_trace")

    def __init__(self, api: Lister) -> None:
        self.api = api
        self.known: dict[str, PodState] = {}
        # The trace context beside each queued key (the queues carry keys only); used only
        # while tracing is on (vk_trio.node._pod_tracing).
        self.sync_trace: tracing.Handoff[str] = tracing.Handoff()
        self.status_trace: tracing.Handoff[str] = tracing.Handoff()
        self.delete_trace: tracing.Handoff[DeleteKey] = tracing.Handoff()

    def state(self, key: str) -> PodState:
        """The pod's memory, created on first use."""
        state = self.known.get(key)
        if state is None:
            state = self.known[key] = PodState()
        return state

    def forget(self, key: str) -> None:
        self.known.pop(key, None)
        self.sync_trace.discard(key)
        self.status_trace.discard(key)


def share_with_cache(state: PodState, old: Mapping[str, Any], new: dict[str, Any]) -> None:
    """Point what we remember at the cache's newest object where it is the same, so a pod is not
    kept twice (our last synced version, the cache's current one): at 10,000 pods that is tens
    of megabytes."""
    if state.last_synced is old and pods_effectively_equal(old, new):
        state.last_synced = new
    written = state.last_write
    status = new.get("status")
    if written is not None and written.result is not status and written.result == status:
        state.last_write = attrs.evolve(written, result=status)
