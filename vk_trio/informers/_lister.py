"""Listers: read-only queries over an informer's cache (by key, by namespace, by label selector).

Objects returned are the cached objects themselves, shared with every other reader: treat them as
read-only (copy before changing one to build a patch).
"""

from __future__ import annotations

import builtins
from typing import final

from ._labels import LabelSelector, SelectorLike, as_label_selector
from ._objects import NAMESPACE_INDEX, Object, labels_of
from ._store import Store


def _select(objs: list[Object], selector: LabelSelector) -> list[Object]:
    if selector.empty:
        return objs
    return [obj for obj in objs if selector.matches(labels_of(obj))]


@final
class Lister:
    """Queries over a :class:`Store` (usually ``informer.lister()``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> Object | None:
        """The object with cache key ``namespace/name`` (or ``name`` if cluster-scoped), or None."""
        return self._store.get_by_key(key)

    def list(
        self, *, namespace: str | None = None, label_selector: SelectorLike = None
    ) -> list[Object]:
        """Cached objects, optionally of one namespace and/or matching a label selector.

        ``label_selector`` takes the ``kubectl -l`` syntax, a ``{key: value}`` mapping or a
        :class:`LabelSelector`. A namespace query uses the built-in namespace index.
        """
        selector = as_label_selector(label_selector)
        if namespace is None:
            objs = self._store.list()
        else:
            objs = self._store.by_index(NAMESPACE_INDEX, namespace)
        return _select(objs, selector)

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        """Objects a custom index files under ``value``."""
        return self._store.by_index(index_name, value)

    def namespace(self, namespace: str) -> NamespaceLister:
        """A lister scoped to one namespace (``get(name)`` instead of ``get("ns/name")``)."""
        return NamespaceLister(self._store, namespace)


@final
class NamespaceLister:
    """Queries over one namespace of a :class:`Store`."""

    def __init__(self, store: Store, namespace: str) -> None:
        self._store = store
        self.namespace = namespace

    def get(self, name: str) -> Object | None:
        """The object ``name`` in this namespace, or None."""
        return self._store.get_by_key(f"{self.namespace}/{name}")

    def list(self, *, label_selector: SelectorLike = None) -> list[Object]:
        """Objects of this namespace, optionally matching a label selector."""
        selector = as_label_selector(label_selector)
        return _select(self._store.by_index(NAMESPACE_INDEX, self.namespace), selector)
