from __future__ import annotations

from vk_trio import informers


def test_public_exports_are_pinned() -> None:
    assert sorted(informers.__all__) == sorted(
        [
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
    )
    for name in informers.__all__:
        value = getattr(informers, name)
        if name.isupper():
            assert isinstance(value, str)
        else:
            assert value.__module__.startswith("vk_trio.informers"), name
