"""Reflection: the remote copies of the home ConfigMaps and Secrets the node's pods use.

State lives in the clusters, not here: what *should* exist is computed from the pods the provider
runs (their references, :func:`._translate.references`), what *does* exist is in two remote
informers (ConfigMaps and Secrets labelled with the node).  :meth:`Reflection.sync` makes the
two agree: missing copies are created, copies whose origin changed (its ``resourceVersion`` differs
from the one recorded on the copy) are updated, and copies that no pod of this node refers to any
more - neither a pod the provider runs nor a remote pod of the node still in the cache - are
deleted.  So a restart, a missed event or a crash between two steps is repaired by the next pass,
and an object is never deleted while a remote pod still mounts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, final

from vk_trio.informers import SharedInformer
from vk_trio.kube import AlreadyExists, ApiError, Conflict, KubeClient, NotFound
from vk_trio.provider import ResourceLookup

from ._labels import KIND_LABEL, ORIGIN_RESOURCE_VERSION_ANNOTATION
from ._translate import reflected_object

__all__ = ["KINDS", "Copy", "Reflection"]

logger = logging.getLogger("vk_trio_cluster.reflect")

KINDS: Final = ("ConfigMap", "Secret")
_PLURAL: Final = {"ConfigMap": "configmaps", "Secret": "secrets"}

Copy = tuple[str, str, str, str]
"""``(kind, home namespace, home name, remote namespace)``: one wanted remote copy."""


def _path(kind: str, namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/{_PLURAL[kind]}"
    return base if name is None else f"{base}/{name}"


@final
class Reflection:
    """Keeps the remote copies in step with what the pods need (see the module docstring)."""

    def __init__(
        self,
        remote: KubeClient,
        lookup: ResourceLookup,
        informers: Mapping[str, SharedInformer],
        *,
        node: str,
        name_for: Callable[[str], str],
    ) -> None:
        self._remote = remote
        self._lookup = lookup
        self._informers = informers
        self._node = node
        self._name_for = name_for
        self.copies_written = 0
        self.copies_deleted = 0

    def _home(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind == "ConfigMap":
            return self._lookup.get_config_map(namespace, name)
        return self._lookup.get_secret(namespace, name)

    def _cached(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._informers[kind].store.get_by_key(f"{namespace}/{name}")

    async def ensure(self, wanted: Iterable[Copy]) -> list[str]:
        """Create or update the copies in ``wanted``; returns the home objects that are missing
        (``kind ns/name``), which are created later, when they appear."""
        missing = []
        for kind, home_ns, home_name, remote_ns in wanted:
            home = self._home(kind, home_ns, home_name)
            if home is None:
                missing.append(f"{kind} {home_ns}/{home_name}")
                continue
            await self._write(kind, home, remote_ns)
        return missing

    async def _write(self, kind: str, home: Mapping[str, Any], remote_ns: str) -> None:
        desired = reflected_object(kind, home, node=self._node, namespace=remote_ns)
        name = desired["metadata"]["name"]
        cached = self._cached(kind, remote_ns, name)
        if cached is not None:
            recorded = (cached["metadata"].get("annotations") or {}).get(
                ORIGIN_RESOURCE_VERSION_ANNOTATION
            )
            wanted_rv = desired["metadata"]["annotations"][ORIGIN_RESOURCE_VERSION_ANNOTATION]
            if recorded == wanted_rv:
                return
            desired["metadata"]["resourceVersion"] = cached["metadata"].get("resourceVersion")
            try:
                await self._remote.update(_path(kind, remote_ns, name), desired)
            except (Conflict, NotFound):
                return  # the cache is behind: the next pass sees the current object
            self.copies_written += 1
            return
        try:
            await self._remote.create(_path(kind, remote_ns), desired)
        except AlreadyExists:
            current = await self._remote.get(_path(kind, remote_ns, name))
            desired["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            await self._remote.update(_path(kind, remote_ns, name), desired)
        self.copies_written += 1

    async def collect(self, wanted: Iterable[Copy], in_use: Iterable[tuple[str, str, str]]) -> None:
        """Delete this node's copies that are neither ``wanted`` nor ``in_use`` (``(kind,
        remote namespace, remote name)`` referred to by remote pods)."""
        keep = {(kind, remote_ns, self._name_for(name)) for kind, _, name, remote_ns in wanted}
        keep |= set(in_use)
        for kind in KINDS:
            for obj in self._informers[kind].store.list():
                meta = obj.get("metadata") or {}
                labels = meta.get("labels") or {}
                if labels.get(KIND_LABEL) != "reflected":
                    continue  # token Secrets are the tokens' business
                key = (kind, str(meta.get("namespace")), str(meta.get("name")))
                if key in keep:
                    continue
                try:
                    await self._remote.delete(
                        _path(kind, key[1], key[2]), uid=str(meta.get("uid") or "") or None
                    )
                except (NotFound, Conflict):
                    pass
                except ApiError as exc:
                    logger.warning("cannot delete the remote %s %s/%s: %s", kind, *key[1:], exc)
                    continue
                self.copies_deleted += 1
