"""The cache behind an informer: objects by key plus secondary indices.

Everything here is synchronous and thread-free: the store is owned by one trio task at a time (the
informer's reflector writes it, listers and handlers read it between checkpoints), so no lock is
needed and a reader never sees a half-applied change.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, final

import attrs

from ._objects import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    IndexFunc,
    KeyFunc,
    Object,
    Transform,
    meta_namespace_key,
    namespace_index_func,
    resource_version_of,
    strip_managed_fields,
)


class StoreIndexError(LookupError):
    """An index name is unknown, already taken, or its index function failed."""


_Values = list[str]


@final
@attrs.frozen
class StoreStatistics:
    """A snapshot of a store's size."""

    objects: int
    resource_version: str
    index_values: Mapping[str, int]
    """Per index: how many distinct values it currently holds."""


@final
class Store:
    """Objects keyed ``namespace/name`` with index functions and a transform run before storing.

    Args:
        indexers: extra index functions by name (a function returns every value an object is
            indexed under). The ``namespace`` index is always present.
        transform: run on every object before it is stored (may mutate and return its argument);
            the default drops ``metadata.managedFields``. Pass ``None`` to store objects as given.
        key_func: the cache key of an object (default ``namespace/name``).

    Objects handed out are the cached objects themselves: readers must not mutate them.
    """

    def __init__(
        self,
        *,
        indexers: Mapping[str, IndexFunc] | None = None,
        transform: Transform | None = strip_managed_fields,
        key_func: KeyFunc = meta_namespace_key,
    ) -> None:
        self._items: dict[str, Object] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index_func}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        self._transform = transform
        self._key_func = key_func
        self.resource_version = ""
        """The last resource version this store is known to reflect (list, event or bookmark)."""
        if indexers:
            self.add_indexers(indexers)

    # -- keys and reads ---------------------------------------------------------------------------

    def key_of(self, obj: Mapping[str, Any] | DeletedFinalStateUnknown) -> str:
        """The cache key of ``obj`` (a tombstone yields its own key)."""
        if isinstance(obj, DeletedFinalStateUnknown):
            return obj.key
        return self._key_func(obj)

    def transform(self, obj: Object) -> Object:
        """Apply the store's transform (what :meth:`add` does before storing)."""
        return obj if self._transform is None else self._transform(obj)

    def get(self, obj: Mapping[str, Any]) -> Object | None:
        """The cached object with the same key as ``obj``."""
        return self._items.get(self.key_of(obj))

    def get_by_key(self, key: str) -> Object | None:
        """The cached object for ``key`` (``namespace/name`` or ``name``), or None."""
        return self._items.get(key)

    def list(self) -> builtins.list[Object]:
        """Every cached object (no particular order)."""
        return builtins.list(self._items.values())

    def items(self) -> Mapping[str, Object]:
        """A read-only view of the current key → object mapping (no copy).

        :meth:`replace` swaps in a new mapping, so a view taken before a replace keeps showing the
        old content — which is how an informer finds the keys a relist made disappear.
        """
        return MappingProxyType(self._items)

    def list_keys(self) -> builtins.list[str]:
        """Every key."""
        return builtins.list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # -- writes -----------------------------------------------------------------------------------

    def add(self, obj: Object) -> Object:
        """Transform and store ``obj`` (insert or replace); returns the stored object."""
        obj = self.transform(obj)
        key = self._key_func(obj)
        old = self._items.get(key)
        self._update_indices(key, old, obj)
        self._items[key] = obj
        self._note_rv(obj)
        return obj

    update = add

    def delete(self, obj: Mapping[str, Any] | DeletedFinalStateUnknown) -> Object | None:
        """Remove the object with ``obj``'s key; returns what was cached (None if absent)."""
        if not isinstance(obj, DeletedFinalStateUnknown):
            self._note_rv(obj)
        return self.delete_key(self.key_of(obj))

    def delete_key(self, key: str) -> Object | None:
        """Remove ``key``; returns what was cached (None if absent)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._update_indices(key, old, None)
        return old

    def replace(self, objs: Iterable[Object], resource_version: str) -> builtins.list[Object]:
        """Swap the whole content for ``objs`` at once; returns the stored (transformed) objects.

        Indices are rebuilt from scratch: cheaper than diffing when most objects changed, and a
        relist is rare.
        """
        items: dict[str, Object] = {}
        stored: builtins.list[Object] = []
        for raw in objs:
            obj = self.transform(raw)
            items[self._key_func(obj)] = obj
            stored.append(obj)
        indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        for key, obj in items.items():
            for name, func in self._indexers.items():
                index = indices[name]
                for value in self._index_values(name, func, obj):
                    index.setdefault(value, set()).add(key)
        self._items = items
        self._indices = indices
        self.resource_version = resource_version
        return stored

    def bookmark(self, resource_version: str) -> None:
        """Record that the cache reflects ``resource_version`` (a watch bookmark)."""
        self.resource_version = resource_version

    def _note_rv(self, obj: Mapping[str, Any]) -> None:
        rv = resource_version_of(obj)
        if rv:
            self.resource_version = rv

    # -- indices ----------------------------------------------------------------------------------

    @property
    def indexers(self) -> Mapping[str, IndexFunc]:
        """The index functions by name (a copy)."""
        return dict(self._indexers)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions, indexing what is already cached; a taken name is an error."""
        taken = sorted(set(indexers) & set(self._indexers))
        if taken:
            raise StoreIndexError(f"indexer conflict: {', '.join(taken)}")
        for name, func in indexers.items():
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in self._index_values(name, func, obj):
                    index.setdefault(value, set()).add(key)
            self._indexers[name] = func
            self._indices[name] = index

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        """Keys of the objects indexed under ``value`` (sorted)."""
        return sorted(self._index(index_name).get(value, ()))

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        """Objects indexed under ``value`` (in key order)."""
        items = self._items
        return [items[key] for key in self.index_keys(index_name, value)]

    def index(self, index_name: str, obj: Mapping[str, Any]) -> builtins.list[Object]:
        """Objects sharing any of ``obj``'s values in the index (in key order)."""
        index = self._index(index_name)
        values = self._index_values(index_name, self._indexers[index_name], obj)
        keys: set[str] = set()
        for value in values:
            keys.update(index.get(value, ()))
        items = self._items
        return [items[key] for key in sorted(keys)]

    def list_index_func_values(self, index_name: str) -> builtins.list[str]:
        """Every value the index currently holds (sorted)."""
        return sorted(self._index(index_name))

    def _index(self, index_name: str) -> dict[str, set[str]]:
        try:
            return self._indices[index_name]
        except KeyError:
            raise StoreIndexError(f"index with name {index_name} does not exist") from None

    @staticmethod
    def _index_values(name: str, func: IndexFunc, obj: Mapping[str, Any]) -> builtins.list[str]:
        try:
            return func(obj)
        except Exception as exc:
            raise StoreIndexError(f"index function {name!r} failed: {exc!r}") from exc

    def _update_indices(self, key: str, old: Object | None, new: Object | None) -> None:
        # Compute every new value first so a failing index function leaves the store untouched.
        changes: builtins.list[
            tuple[dict[str, set[str]], builtins.list[str], builtins.list[str]]
        ] = []
        for name, func in self._indexers.items():
            old_values = self._index_values(name, func, old) if old is not None else []
            new_values = self._index_values(name, func, new) if new is not None else []
            if old_values == new_values and old is not None and new is not None:
                continue  # the common case (namespace unchanged): no index work
            changes.append((self._indices[name], old_values, new_values))
        for index, old_values, new_values in changes:
            for value in old_values:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]  # no empty sets left behind
            for value in new_values:
                index.setdefault(value, set()).add(key)

    def statistics(self) -> StoreStatistics:
        """Sizes: objects cached, resource version, distinct values per index."""
        return StoreStatistics(
            objects=len(self._items),
            resource_version=self.resource_version,
            index_values={name: len(index) for name, index in self._indices.items()},
        )
