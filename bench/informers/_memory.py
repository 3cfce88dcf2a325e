"""Bytes per cached pod in an informer's store, measured with tracemalloc.

Pods arrive as JSON bytes (what the API client receives), are parsed with orjson (what the client
does) and stored through the store's transform (what the reflector does), so the figure is the
real resident cost of one more pod in the cache: the dicts, lists and strings of the parsed
object plus the store's key and index entries. The raw bytes are created before measuring and are
not counted.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import attrs
import orjson

from vk_trio.informers import Store, identity, strip_managed_fields

from ._pod import realistic_pod


@attrs.frozen
class MemoryResult:
    variant: str
    pods: int
    json_bytes_per_pod: float
    """Size of the pod's JSON as the cache keeps it (after the transform)."""
    bytes_per_pod: float
    """tracemalloc: growth of traced memory per cached pod."""
    add_us_per_pod: float
    """Wall time to parse one pod's JSON and add it to the store (no tracemalloc running)."""


def _fill(payloads: list[bytes], transform: Any) -> Store:
    store = Store(transform=transform)
    loads = orjson.loads
    add = store.add
    for payload in payloads:
        add(loads(payload))
    return store


def measure(pods: int, *, strip: bool) -> MemoryResult:
    transform = strip_managed_fields if strip else identity
    payloads = [orjson.dumps(realistic_pod(i)) for i in range(pods)]

    started = time.perf_counter()
    store = _fill(payloads, transform)
    elapsed = time.perf_counter() - started
    kept = sum(len(orjson.dumps(obj)) for obj in store.list()) / pods
    del store

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = _fill(payloads, transform)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(store) == pods
    return MemoryResult(
        variant="managedFields stripped (default)" if strip else "managedFields kept",
        pods=pods,
        json_bytes_per_pod=kept,
        bytes_per_pod=(after - before) / pods,
        add_us_per_pod=elapsed / pods * 1e6,
    )
