"""An in-memory stand-in for the API server, for unit tests of the node controllers.

It keeps objects by path, bumps ``resourceVersion`` on every write, assigns UIDs, raises the same
typed errors as the real client, and records every request. Behaviour that matters to the
controllers (status subresources keep the spec, graceful pod deletion, UID preconditions,
strategic-merge patches of Node fields) is modelled; the rest of the API server is not, which is
why every such behaviour is also tested against the real control plane in tests/e2e.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from vk_trio.kube import WatchEvent
from vk_trio.node._kube import AlreadyExists, Conflict, NotFound, PatchType
from vk_trio.node._strategic import apply_strategic_patch

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
"""Wall-clock time at trio time 0 (deletion deadlines are computed from trio's clock)."""


@attrs.frozen
class Request:
    verb: str
    path: str
    body: Any = None
    patch_type: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _split(path: str) -> tuple[str, str | None]:
    """(object path, subresource) for a path like /api/v1/namespaces/ns/pods/p/status."""
    parts = path.strip("/").split("/")
    # /api/v1/... has 2 prefix segments, /apis/g/v/... has 3
    prefix = 2 if parts[0] == "api" else 3
    rest = parts[prefix:]
    namespaced = rest[0] == "namespaces" and len(rest) > 2
    base = 4 if namespaced else 2
    if len(rest) > base:
        return "/" + "/".join(parts[: prefix + base]), rest[base]
    return path, None


def _collection_of(path: str) -> tuple[str, str | None, str]:
    """(api prefix, namespace or None, plural) of an object path."""
    parts = path.strip("/").split("/")
    prefix = 2 if parts[0] == "api" else 3
    rest = parts[prefix:]
    api = "/".join(parts[:prefix])
    if rest[0] == "namespaces" and len(rest) >= 4:
        return api, rest[1], rest[2]
    return api, None, rest[0]


def _matches(obj: Mapping[str, Any], field_selector: str | None) -> bool:
    for term in (field_selector or "").split(","):
        if not term:
            continue
        field, _, wanted = term.partition("=")
        value: Any = obj
        for part in field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if (value or "") != wanted:
            return False
    return True


class _Watch:
    """Async iterator over the fake's event log (a class, not an async generator)."""

    def __init__(self, kube: FakeKube, path: str, rv: int, selector: str | None, timeout: float):
        self._kube = kube
        self._path = path
        self._cursor = rv
        self._selector = selector
        self._deadline = trio.current_time() + timeout

    def __aiter__(self) -> _Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        while True:
            for rv, kind, obj_path, obj in self._kube.log:
                if rv <= self._cursor:
                    continue
                self._cursor = rv
                if self._kube.in_collection(obj_path, self._path) and _matches(obj, self._selector):
                    return WatchEvent(type=kind, object=copy.deepcopy(obj))
            with trio.move_on_at(self._deadline):
                await self._kube.changed.wait()
            error = self._kube.watch_errors.pop(self._path, None)
            if error is not None:
                raise error
            if trio.current_time() >= self._deadline:
                raise StopAsyncIteration


class FakeKube:
    """Objects by path. ``fail`` hooks can make a verb raise for matching paths."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)
        self.failures: list[tuple[str, Callable[[str], bool], BaseException]] = []
        self.latency = 0.0
        self.slow_paths: dict[str, float] = {}
        self.changed = trio.Event()
        self.log: list[tuple[int, str, str, dict[str, Any]]] = []
        self.rv = 0
        self.watch_errors: dict[str, BaseException] = {}

    # -- test helpers ----------------------------------------------------------------------
    def fail_next(
        self, verb: str, error: BaseException, match: Callable[[str], bool] = lambda _: True
    ) -> None:
        self.failures.append((verb, match, error))

    def put(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(obj))
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(self._uid)}")
        self.rv = next(self._rv)
        meta["resourceVersion"] = str(self.rv)
        if "namespace" not in meta:
            namespace = _collection_of(path)[1]
            if namespace:
                meta["namespace"] = namespace
        kind = "MODIFIED" if path in self.objects else "ADDED"
        self.objects[path] = stored
        self.log.append((self.rv, kind, path, copy.deepcopy(stored)))
        self._touch()
        return copy.deepcopy(stored)

    def remove(self, path: str) -> dict[str, Any]:
        """Delete an object outright (as the API server does at the end of a deletion)."""
        obj = self.objects.pop(path)
        self.rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, "DELETED", path, copy.deepcopy(obj)))
        self._touch()
        return obj

    def in_collection(self, obj_path: str, collection: str) -> bool:
        api, namespace, plural = _collection_of(obj_path)
        parts = collection.strip("/").split("/")
        prefix = 2 if parts[0] == "api" else 3
        if "/".join(parts[:prefix]) != api:
            return False
        rest = parts[prefix:]
        if rest[0] == "namespaces":
            return rest[1] == namespace and rest[2] == plural
        return rest[0] == plural

    def break_watch(self, collection: str, error: BaseException) -> None:
        """Make the open watch of ``collection`` fail with ``error`` (Gone forces a relist)."""
        self.watch_errors[collection] = error
        self._touch()

    def vanish(self, path: str) -> None:
        """Remove an object without a watch event: a deletion the watch missed."""
        del self.objects[path]
        self.rv = next(self._rv)

    def calls(self, verb: str, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if r.verb == verb and path_part in r.path]

    def _touch(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def _enter(self, request: Request) -> None:
        self.requests.append(request)
        latency = self.latency
        for part, extra in self.slow_paths.items():
            if part in request.path:
                latency += extra
        if latency:
            await trio.sleep(latency)
        else:
            await trio.lowlevel.checkpoint()
        for index, (verb, match, error) in enumerate(self.failures):
            if verb == request.verb and match(request.path):
                del self.failures[index]
                raise error

    def _get(self, path: str) -> dict[str, Any]:
        try:
            return self.objects[path]
        except KeyError:
            raise NotFound(f"{path} not found", status_code=404) from None

    # -- the KubeApi protocol --------------------------------------------------------------
    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        await self._enter(Request("get", path, params=dict(params or {})))
        base, _ = _split(path)
        return copy.deepcopy(self._get(base))

    async def create(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        await self._enter(Request("create", path, copy.deepcopy(dict(body))))
        name = body.get("metadata", {}).get("name")
        if not name:
            prefix = body.get("metadata", {}).get("generateName", "obj-")
            name = f"{prefix}{next(self._uid)}"
        full = f"{path}/{name}"
        if full in self.objects:
            raise AlreadyExists(f"{full} already exists", status_code=409)
        obj = copy.deepcopy(dict(body))
        obj.setdefault("metadata", {})["name"] = name
        obj["metadata"].pop("resourceVersion", None)
        obj["metadata"].pop("uid", None)
        return self.put(full, obj)

    async def update(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        await self._enter(Request("update", path, copy.deepcopy(dict(body))))
        base, sub = _split(path)
        current = self._get(base)
        wanted_rv = body.get("metadata", {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise Conflict(f"{path}: the object has been modified", status_code=409)
        obj = copy.deepcopy(dict(body))
        if sub == "status":
            obj = {**current, "status": obj.get("status", {})}
        obj.setdefault("metadata", {})["uid"] = current["metadata"]["uid"]
        return self.put(base, obj)

    async def patch(
        self,
        path: str,
        body: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        await self._enter(Request("patch", path, copy.deepcopy(body), patch_type.name))
        base, sub = _split(path)
        current = self._get(base)
        if patch_type is PatchType.STRATEGIC:
            patched = apply_strategic_patch(current, body)
        else:
            patched = merge_patch(current, body)
        if sub == "status":
            patched["spec"] = current.get("spec", {})
        patched["metadata"]["uid"] = current["metadata"]["uid"]
        return self.put(base, patched)

    async def delete(
        self,
        path: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        params = {"grace_period_seconds": grace_period_seconds, "uid": uid}
        await self._enter(Request("delete", path, params=params))
        current = self._get(path)
        if uid is not None and current["metadata"].get("uid") != uid:
            raise Conflict(f"{path}: precondition failed: UID mismatch", status_code=409)
        if grace_period_seconds:
            meta = current["metadata"]
            if "deletionTimestamp" not in meta:
                deadline = T0 + dt.timedelta(seconds=trio.current_time() + grace_period_seconds)
                meta["deletionTimestamp"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
                meta["deletionGracePeriodSeconds"] = grace_period_seconds
                return self.put(path, current)
            return copy.deepcopy(current)
        return copy.deepcopy(self.remove(path))

    # -- list and watch (for informers) ----------------------------------------------------
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
        await self._enter(Request("list", path, params={"fieldSelector": field_selector}))
        items = [
            copy.deepcopy(obj)
            for obj_path, obj in self.objects.items()
            if self.in_collection(obj_path, path) and _matches(obj, field_selector)
        ]
        return {"metadata": {"resourceVersion": str(self.rv)}, "items": items}

    @asynccontextmanager
    async def _watch(
        self, path: str, rv: int, selector: str | None, timeout: float
    ) -> AsyncIterator[_Watch]:
        await self._enter(Request("watch", path, params={"resourceVersion": rv}))
        yield _Watch(self, path, rv, selector, timeout)

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
        rv = int(resource_version or 0)
        timeout = float(timeout_seconds) if timeout_seconds else math.inf
        return self._watch(path, rv, field_selector, timeout)
