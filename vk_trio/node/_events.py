"""Kubernetes events for pods, written the way ``kubectl describe`` expects to read them.

Handlers and workers call :meth:`EventRecorder.record` from anywhere: it never blocks and never
fails (a full buffer drops the event and counts it). Writers run in :meth:`EventRecorder.run`.

Repeats are folded like client-go's correlator does for identical events: the same involved
object, type, reason, message and source within ``aggregation_window`` seconds becomes a PATCH of
the first event's ``count`` and ``lastTimestamp`` instead of a new object, so a pod that fails env
resolution twenty times shows one line "x20" rather than twenty. Each correlation key always goes
to the same writer task, so the create of an event is never overtaken by its own count patch.
"""

from __future__ import annotations

import logging
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, Final, Protocol, final

import attrs
import trio

from ..util import Backoff, Now, format_time, retry, utc_now
from ._kube import AlreadyExists, KubeApi, NotFound, PatchType, is_transient
from ._kube import resource_path as _path

__all__ = ["NORMAL", "WARNING", "EventRecorder", "EventRecorderStatistics", "EventSink"]

logger = logging.getLogger("vk_trio.node.events")

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
WRITE_BACKOFF: Final = Backoff(0.5, factor=2.0, cap=10.0)
"""Waits between attempts at an event write that failed transiently."""

_Key = tuple[str, str, str, str, str, str, str]


class EventSink(Protocol):
    """Where pod events go (an :class:`EventRecorder`)."""

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


@final
@attrs.frozen
class EventRecorderStatistics:
    recorded: int
    created: int
    patched: int
    dropped: int
    failed: int
    pending: int


@final
@attrs.define
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float


@final
@attrs.frozen
class _Write:
    key: _Key
    body: dict[str, Any]
    count: int
    name: str | None  # None = create, else patch this event


@final
class EventRecorder:
    """Records events with source component ``component`` (``<node>/pod-controller`` upstream)."""

    def __init__(
        self,
        client: KubeApi,
        *,
        component: str,
        host: str | None = None,
        buffer: int = 4096,
        writers: int = 4,
        aggregation_window: float = 600.0,
        cache_size: int = 4096,
        max_attempts: int = 4,
        now: Now = utc_now,
    ) -> None:
        if writers < 1:
            raise ValueError("an event recorder needs at least one writer")
        self._client = client
        self._component = component
        self._host = host
        self._window = aggregation_window
        self._cache_size = cache_size
        self._max_attempts = max_attempts
        self._now = now
        self._seen: OrderedDict[_Key, _Seen] = OrderedDict()
        per_writer = max(1, buffer // writers)
        channels = [trio.open_memory_channel[_Write](per_writer) for _ in range(writers)]
        self._senders = [send for send, _ in channels]
        self._receivers = [receive for _, receive in channels]
        self._recorded = self._created = self._patched = self._dropped = self._failed = 0
        self._closed = False
        self._last_stamp = 0

    @property
    def component(self) -> str:
        return self._component

    def statistics(self) -> EventRecorderStatistics:
        pending = sum(s.statistics().current_buffer_used for s in self._senders)
        return EventRecorderStatistics(
            recorded=self._recorded,
            created=self._created,
            patched=self._patched,
            dropped=self._dropped,
            failed=self._failed,
            pending=pending,
        )

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Queue an event about ``obj`` (a pod dict). Never blocks; drops if the buffer is full."""
        self._recorded += 1
        meta: Mapping[str, Any] = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        logger.info(
            "event %s %s %s/%s: %s",
            type_,
            reason,
            namespace,
            meta.get("name", ""),
            message,
            extra={"namespace": namespace, "pod": meta.get("name", ""), "reason": reason},
        )
        if self._closed:
            self._dropped += 1
            return
        kind = obj.get("kind") or "Pod"
        key: _Key = (
            kind,
            namespace,
            str(meta.get("name", "")),
            str(meta.get("uid", "")),
            type_,
            reason,
            message,
        )
        now = self._now()
        stamp = format_time(now)
        clock = trio.current_time()
        seen = self._seen.get(key)
        if seen is not None and clock - seen.last_seen <= self._window:
            seen.count += 1
            seen.last_seen = clock
            self._seen.move_to_end(key)
            body = self._body(obj, key, now, seen.first_timestamp, seen.count)
            write = _Write(key, body, seen.count, seen.name)
        else:
            name = self._event_name(str(meta.get("name") or "object"), now)
            seen = _Seen(name, namespace, 1, stamp, clock)
            self._seen[key] = seen
            self._seen.move_to_end(key)
            while len(self._seen) > self._cache_size:
                self._seen.popitem(last=False)
            body = self._body(obj, key, now, stamp, 1)
            body["metadata"] = {"name": name, "namespace": namespace}
            write = _Write(key, body, 1, None)
        sender = self._senders[zlib.crc32(repr(key).encode()) % len(self._senders)]
        try:
            sender.send_nowait(write)
        except trio.WouldBlock:
            self._dropped += 1
            logger.debug("event buffer full, dropping %s %s", reason, message)

    def _event_name(self, object_name: str, now: datetime) -> str:
        """``<object>.<hex nanoseconds>`` like client-go, kept strictly increasing so two events
        in the same clock tick never collide."""
        stamp = max(int(now.timestamp() * 1e9), self._last_stamp + 1)
        self._last_stamp = stamp
        return f"{object_name}.{stamp:x}"

    def _body(
        self, obj: Mapping[str, Any], key: _Key, now: datetime, first: str, count: int
    ) -> dict[str, Any]:
        kind, namespace, name, uid, type_, reason, message = key
        meta: Mapping[str, Any] = obj.get("metadata") or {}
        involved: dict[str, Any] = {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "apiVersion": obj.get("apiVersion") or "v1",
        }
        if uid:
            involved["uid"] = uid
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        source: dict[str, str] = {"component": self._component}
        if self._host:
            source["host"] = self._host
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": source,
            "firstTimestamp": first,
            "lastTimestamp": format_time(now),
            "count": count,
            "reportingComponent": self._component,
            "reportingInstance": self._host or "",
        }

    def close(self) -> None:
        """Stop accepting events; :meth:`run` returns once what is queued has been written."""
        if not self._closed:
            self._closed = True
            for sender in self._senders:
                sender.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write events until :meth:`close` (then drain) or cancellation."""
        async with trio.open_nursery() as nursery:
            for receiver in self._receivers:
                nursery.start_soon(self._writer, receiver)
            task_status.started()

    async def _writer(self, receiver: trio.MemoryReceiveChannel[_Write]) -> None:
        async with receiver:
            async for write in receiver:
                await self._write(write)

    async def _write(self, write: _Write) -> None:
        try:
            await retry(
                partial(self._write_once, write),
                backoff=WRITE_BACKOFF,
                retryable=is_transient,
                max_attempts=self._max_attempts,
            )
        except Exception as exc:  # not only ApiError: nothing a server sends ends the writer
            self._failed += 1
            logger.warning(
                "could not write event %s for %s/%s: %s",
                write.body["reason"],
                write.key[1],
                write.key[2],
                exc,
            )

    async def _write_once(self, write: _Write) -> None:
        namespace = write.key[1]
        collection = _path("v1", "events", namespace=namespace)
        if write.name is not None:
            patch = {
                "count": write.count,
                "lastTimestamp": write.body["lastTimestamp"],
                "message": write.body["message"],
            }
            try:
                await self._client.patch(
                    _path("v1", "events", namespace=namespace, name=write.name),
                    patch,
                    patch_type=PatchType.MERGE,
                )
                self._patched += 1
                return
            except NotFound:
                # The first event expired (events have a TTL) or was never written: start anew.
                seen = self._seen.get(write.key)
                name = self._event_name(write.key[2], self._now())
                if seen is not None:
                    seen.name = name
                write.body["metadata"] = {"name": name, "namespace": namespace}
        try:
            await self._client.create(collection, write.body)
            self._created += 1
        except AlreadyExists:
            self._created += 1
