"""An in-memory stand-in for the API server, for unit tests of the node controllers.

It keeps objects by path, bumps ``resourceVersion`` on every write, assigns UIDs, raises the same
typed errors as the real client, and records every request. Behaviour that matters to the
controllers (status subresources keep the spec, graceful pod deletion, UID preconditions,
strategic-merge patches of Node fields) is modelled; the rest of the API server is not, which is
why every such behaviour is also tested against the real control plane in tests/e2e.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from vk_trio.node._kube import AlreadyExists, Conflict, NotFound, PatchType
from vk_trio.node._strategic import apply_strategic_patch


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


class FakeKube:
    """Objects by path. ``fail`` hooks can make a verb raise for matching paths."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)
        self.failures: list[tuple[str, Callable[[str], bool], BaseException]] = []
        self.latency = 0.0
        self.changed = trio.Event()

    # -- test helpers ----------------------------------------------------------------------
    def fail_next(
        self, verb: str, error: BaseException, match: Callable[[str], bool] = lambda _: True
    ) -> None:
        self.failures.append((verb, match, error))

    def put(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(obj))
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(self._uid)}")
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[path] = stored
        self._touch()
        return copy.deepcopy(stored)

    def calls(self, verb: str, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if r.verb == verb and path_part in r.path]

    def _touch(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def _enter(self, request: Request) -> None:
        self.requests.append(request)
        if self.latency:
            await trio.sleep(self.latency)
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
                meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
                meta["deletionGracePeriodSeconds"] = grace_period_seconds
                return self.put(path, current)
            return copy.deepcopy(current)
        del self.objects[path]
        self._touch()
        return copy.deepcopy(current)
