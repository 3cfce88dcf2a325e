"""The bounded TTL cache behind the auth decisions."""

from __future__ import annotations

import pytest

from vk_trio.api._cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(clock=clock)
    cache.put("a", 1, 10)
    cache.put("b", 2, 20)
    clock.now = 9.99
    assert (cache.get("a"), cache.get("b")) == (1, 2)
    clock.now = 10
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    assert len(cache) == 1
    cache.put("c", 3, 0)  # a zero TTL is not stored
    assert cache.get("c") is None


def test_least_recently_used_goes_first_beyond_max_size() -> None:
    cache: TtlCache[str, int] = TtlCache(2, clock=Clock())
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    assert cache.get("a") == 1
    cache.put("c", 3, 10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    stats = cache.statistics()
    assert (stats.size, stats.evictions, stats.hits, stats.misses) == (2, 1, 3, 1)
    with pytest.raises(ValueError):
        TtlCache(0)
