"""A small bounded TTL cache on trio's clock (authentication and authorization decisions)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, final

import attrs
import trio

__all__ = ["CacheStatistics", "TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@final
@attrs.frozen
class CacheStatistics:
    size: int
    hits: int
    misses: int
    evictions: int


@final
class TtlCache(Generic[K, V]):
    """Entries expire ``ttl`` seconds after they were put; beyond ``max_size`` entries the least
    recently used goes first, so a client cycling through random tokens cannot grow memory."""

    def __init__(self, max_size: int = 4096, *, clock: Callable[[], float] | None = None) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._max_size = max_size
        self._clock = clock or trio.current_time
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._hits = self._misses = self._evictions = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self._misses += 1
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            self._misses += 1
            return None
        self._entries.move_to_end(key)
        self._hits += 1
        return value

    def put(self, key: K, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)
            self._evictions += 1

    def __len__(self) -> int:
        return len(self._entries)

    def statistics(self) -> CacheStatistics:
        return CacheStatistics(
            size=len(self._entries), hits=self._hits, misses=self._misses, evictions=self._evictions
        )
