"""An in-memory API server for one kind of object, with the list/watch shape of KubeClient.

It keeps a resource-version counter and an event history (so a watch can resume from any version
not yet compacted), pages lists with continue tokens, filters by namespace (from the path), label
and field selectors (objects that stop matching a watch's selector arrive as DELETED, as on the
real server), and lets a test inject failures: errors on list or watch open, 410 by compaction,
bookmarks, streams that end, break or stall. Everything runs on trio's clock.
"""

from __future__ import annotations

import copy
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from vk_trio.informers import LabelSelector
from vk_trio.kube import ApiError, Gone, WatchEvent


def make_object(
    name: str,
    namespace: str | None = "default",
    *,
    labels: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": dict(spec or {})}


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    return "" if value is None else str(value)


def _field_matcher(selector: str | None) -> Callable[[Mapping[str, Any]], bool]:
    terms: list[tuple[str, bool, str]] = []
    for term in (selector or "").split(","):
        if not term:
            continue
        m = re.fullmatch(r"([\w.]+)\s*(!=|==|=)\s*(.*)", term)
        assert m, term
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return lambda obj: all((_field(obj, p) == v) == eq for p, eq, v in terms)


def _namespace_of(path: str) -> str | None:
    m = re.search(r"/namespaces/([^/]+)/", path)
    return m.group(1) if m else None


@attrs.define
class Call:
    """One list or watch call as the fake saw it."""

    verb: str
    resource_version: str | None
    limit: int | None = None
    continue_: str | None = None
    timeout_seconds: int | None = None
    read_timeout: float | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    at: float = 0.0


class _Watch:
    def __init__(self, server: FakeApiServer, match: Callable[[Mapping[str, Any]], bool]) -> None:
        self.server = server
        self.match = match
        self.send, self.receive = trio.open_memory_channel[WatchEvent | BaseException | None](
            float("inf")
        )
        self.stalled = False

    def offer(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        new_match = self.match(obj)
        old_match = old is not None and self.match(old)
        if kind == "MODIFIED":
            if old_match and not new_match:
                kind = "DELETED"
            elif new_match and not old_match:
                kind = "ADDED"
            elif not new_match:
                return
        elif not new_match:
            return
        self.send.send_nowait(WatchEvent(type=kind, object=copy.deepcopy(obj)))


class _Stream:
    def __init__(self, watch: _Watch, deadline: float) -> None:
        self._watch = watch
        self._deadline = deadline

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> WatchEvent:
        watch = self._watch
        while True:
            if watch.stalled:
                await trio.sleep_forever()  # a dead connection: not even the timeout arrives
            with trio.move_on_at(self._deadline) as scope:
                item = await watch.receive.receive()
            if watch.stalled:
                await trio.sleep_forever()
            if scope.cancelled_caught:
                raise StopAsyncIteration  # the server's timeoutSeconds passed
            if item is None:
                raise StopAsyncIteration
            if isinstance(item, BaseException):
                raise item
            if item.type == "ERROR" and item.object.get("code") == 410:
                # as KubeClient.watch does: 410 raises, other ERROR events are yielded
                status = item.object
                raise Gone(
                    status["message"], status_code=410, reason=status["reason"], status=status
                )
            return item


class FakeApiServer:
    """The fake; its ``list`` and ``watch`` match :class:`vk_trio.kube.KubeClient`'s."""

    def __init__(self, *, watch_cache: bool = True) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.rv = 100
        self.history: list[tuple[int, str, dict[str, Any], dict[str, Any] | None]] = []
        self.compacted = 0
        self.watch_cache = watch_cache
        """With the watch cache on, a RV="0" list ignores ``limit`` (as the real server does)."""
        self.calls: list[Call] = []
        self.list_errors: deque[ApiError | None] = deque()
        self.watch_errors: deque[ApiError | None] = deque()
        self.watch_stream_errors: deque[BaseException] = deque()
        self.end_next_watches = 0
        """That many of the next watches end at once, without an event."""
        self.list_resource_version: str | None = None
        """If set, lists report this resource version instead of the current one."""
        self._watches: list[_Watch] = []
        self._snapshots: dict[str, list[dict[str, Any]]] = {}
        self.watch_opened = trio.Event()

    # -- inspection -------------------------------------------------------------------------------

    def list_calls(self) -> list[Call]:
        return [c for c in self.calls if c.verb == "list"]

    def watch_calls(self) -> list[Call]:
        return [c for c in self.calls if c.verb == "watch"]

    @property
    def open_watches(self) -> int:
        return len(self._watches)

    # -- mutations --------------------------------------------------------------------------------

    def _record(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.history.append((self.rv, kind, copy.deepcopy(obj), old))
        for watch in self._watches:
            watch.offer(kind, obj, old)

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    @staticmethod
    def key(obj: Mapping[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = self.key(obj)
        assert key not in self.objects, key
        obj = copy.deepcopy(obj)
        self._bump(obj)
        self.objects[key] = obj
        self._record("ADDED", obj, None)
        return obj

    def modify(self, key: str, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        old = self.objects[key]
        new = copy.deepcopy(old)
        change(new)
        self._bump(new)
        self.objects[key] = new
        self._record("MODIFIED", new, old)
        return new

    def delete(self, key: str) -> dict[str, Any]:
        obj = copy.deepcopy(self.objects.pop(key))
        self._bump(obj)
        self._record("DELETED", obj, obj)
        return obj

    def compact(self) -> None:
        """Forget the history: a watch from an older version now gets 410."""
        self.compacted = self.rv
        self.history.clear()

    def bump_unrelated(self, n: int = 1) -> None:
        """Advance the resource version as changes to other resources would."""
        self.rv += n

    def bookmark(self) -> None:
        event = WatchEvent(
            type="BOOKMARK",
            object={
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.rv)},
            },
        )
        for watch in self._watches:
            watch.send.send_nowait(event)

    def send_error_event(self, status: dict[str, Any]) -> None:
        for watch in self._watches:
            watch.send.send_nowait(WatchEvent(type="ERROR", object=status))

    def end_watches(self) -> None:
        for watch in self._watches:
            watch.send.send_nowait(None)

    def break_watches(self, exc: BaseException) -> None:
        for watch in self._watches:
            watch.send.send_nowait(exc)

    def stall_watches(self) -> None:
        for watch in self._watches:
            watch.stalled = True

    # -- the client side --------------------------------------------------------------------------

    async def patch(self, path: str, body: Any, **_: Any) -> dict[str, Any]:
        """A JSON merge patch of ``.../namespaces/<ns>/<plural>/<name>`` (enough for examples)."""
        await trio.lowlevel.checkpoint()
        self.calls.append(Call("patch", None, at=trio.current_time()))
        m = re.search(r"/namespaces/([^/]+)/[^/]+/([^/]+)$", path)
        assert m, path
        key = f"{m.group(1)}/{m.group(2)}"

        def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
            for k, v in patch.items():
                if v is None:
                    target.pop(k, None)
                elif isinstance(v, Mapping) and isinstance(target.get(k), dict):
                    merge(target[k], v)
                else:
                    target[k] = copy.deepcopy(v)

        return copy.deepcopy(self.modify(key, lambda obj: merge(obj, body)))

    def _matcher(
        self, path: str, label_selector: str | None, field_selector: str | None
    ) -> Callable[[Mapping[str, Any]], bool]:
        namespace = _namespace_of(path)
        labels = LabelSelector.parse(label_selector or "")
        fields = _field_matcher(field_selector)

        def match(obj: Mapping[str, Any]) -> bool:
            meta = obj["metadata"]
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            return labels.matches(meta.get("labels") or {}) and fields(obj)

        return match

    async def list(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        self.calls.append(
            Call(
                "list",
                resource_version,
                limit=limit,
                continue_=continue_,
                label_selector=label_selector,
                field_selector=field_selector,
                at=trio.current_time(),
            )
        )
        if self.list_errors:
            error = self.list_errors.popleft()
            if error is not None:
                raise error
        if continue_ is not None:
            token_rv, offset_text = continue_.split(":")
            if int(token_rv) < self.compacted:
                raise Gone("continue token expired", status_code=410, reason="Expired")
            items = self._snapshots[continue_]
            list_rv = token_rv
            offset = int(offset_text)
        else:
            match = self._matcher(path, label_selector, field_selector)
            items = [copy.deepcopy(o) for k, o in sorted(self.objects.items()) if match(o)]
            for item in items:  # list items come without kind/apiVersion
                item.pop("kind", None)
                item.pop("apiVersion", None)
            list_rv = (
                str(self.rv) if self.list_resource_version is None else self.list_resource_version
            )
            offset = 0
        if resource_version == "0" and self.watch_cache and continue_ is None:
            limit = None
        page = items[offset:]
        meta: dict[str, Any] = {"resourceVersion": list_rv}
        if limit is not None and len(page) > limit:
            page = page[:limit]
            token = f"{list_rv}:{offset + limit}"
            self._snapshots[token] = items
            meta["continue"] = token
        return {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": page}

    def watch(
        self,
        path: str,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        return self._watch(
            path,
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            timeout_seconds=timeout_seconds,
            read_timeout=read_timeout,
        )

    @asynccontextmanager
    async def _watch(
        self,
        path: str,
        *,
        resource_version: str | None,
        label_selector: str | None,
        field_selector: str | None,
        timeout_seconds: int | None,
        read_timeout: float | None,
    ) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        await trio.lowlevel.checkpoint()
        self.calls.append(
            Call(
                "watch",
                resource_version,
                timeout_seconds=timeout_seconds,
                read_timeout=read_timeout,
                label_selector=label_selector,
                field_selector=field_selector,
                at=trio.current_time(),
            )
        )
        if self.watch_errors:
            error = self.watch_errors.popleft()
            if error is not None:
                raise error
        watch = _Watch(self, self._matcher(path, label_selector, field_selector))
        start = int(resource_version) if resource_version not in (None, "", "0") else self.rv
        if start < self.compacted:
            watch.send.send_nowait(
                WatchEvent(
                    type="ERROR",
                    object={
                        "kind": "Status",
                        "status": "Failure",
                        "reason": "Expired",
                        "code": 410,
                        "message": f"too old resource version: {start} ({self.compacted})",
                    },
                )
            )
        else:
            for rv, kind, obj, old in self.history:
                if rv > start:
                    watch.offer(kind, obj, old)
        for exc in self.watch_stream_errors:
            watch.send.send_nowait(exc)
        self.watch_stream_errors.clear()
        if self.end_next_watches > 0:
            self.end_next_watches -= 1
            watch.send.send_nowait(None)
        self._watches.append(watch)
        self.watch_opened.set()
        self.watch_opened = trio.Event()
        deadline = trio.current_time() + (timeout_seconds or 1800)
        try:
            yield _Stream(watch, deadline)
        finally:
            self._watches.remove(watch)
