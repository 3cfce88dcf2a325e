"""Shared informers on trio: list+watch caches with client-go semantics (see docs/informers.md).

A :class:`SharedInformer` keeps a :class:`Store` equal to the API server's view of one resource
(path + selectors) through a :class:`Reflector`, and tells handlers about every change; an
:class:`InformerFactory` hands out one informer per resource/selector; a :class:`Lister` queries
the cache.
"""

from ._backoff import Backoff as Backoff
from ._factory import InformerFactory as InformerFactory
from ._factory import InformerKey as InformerKey
from ._informer import HandlerRegistration as HandlerRegistration
from ._informer import InformerStatistics as InformerStatistics
from ._informer import SharedInformer as SharedInformer
from ._informer import wait_for_cache_sync as wait_for_cache_sync
from ._labels import LabelSelector as LabelSelector
from ._labels import LabelSelectorError as LabelSelectorError
from ._labels import Requirement as Requirement
from ._lister import Lister as Lister
from ._lister import NamespaceLister as NamespaceLister
from ._objects import NAMESPACE_INDEX as NAMESPACE_INDEX
from ._objects import DeletedFinalStateUnknown as DeletedFinalStateUnknown
from ._objects import ObjectKeyError as ObjectKeyError
from ._objects import identity as identity
from ._objects import meta_namespace_key as meta_namespace_key
from ._objects import namespace_index_func as namespace_index_func
from ._objects import split_meta_namespace_key as split_meta_namespace_key
from ._objects import strip_managed_fields as strip_managed_fields
from ._reflector import ListWatchClient as ListWatchClient
from ._reflector import Reflector as Reflector
from ._reflector import ReflectorOptions as ReflectorOptions
from ._reflector import ReflectorSink as ReflectorSink
from ._reflector import ReflectorStatistics as ReflectorStatistics
from ._reflector import VeryShortWatchError as VeryShortWatchError
from ._reflector import WatchStalledError as WatchStalledError
from ._store import Store as Store
from ._store import StoreIndexError as StoreIndexError
from ._store import StoreStatistics as StoreStatistics

__all__ = [
    "NAMESPACE_INDEX",
    "Backoff",
    "DeletedFinalStateUnknown",
    "HandlerRegistration",
    "InformerFactory",
    "InformerKey",
    "InformerStatistics",
    "LabelSelector",
    "LabelSelectorError",
    "ListWatchClient",
    "Lister",
    "NamespaceLister",
    "ObjectKeyError",
    "Reflector",
    "ReflectorOptions",
    "ReflectorSink",
    "ReflectorStatistics",
    "Requirement",
    "SharedInformer",
    "Store",
    "StoreIndexError",
    "StoreStatistics",
    "VeryShortWatchError",
    "WatchStalledError",
    "identity",
    "meta_namespace_key",
    "namespace_index_func",
    "split_meta_namespace_key",
    "strip_managed_fields",
    "wait_for_cache_sync",
]
