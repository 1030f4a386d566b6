"""The cache helpers: TTLs, counters, and cache-aside that survives a cache outage."""

from __future__ import annotations

from unittest.mock import AsyncMock

from tijori.common.cache import CacheUnavailableError, MemoryCache, cache_aside


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_memory_entries_expire_after_their_ttl() -> None:
    clock = _Clock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"v", ttl_seconds=10)
    assert await cache.get("k") == b"v"
    clock.now = 10.5
    assert await cache.get("k") is None


async def test_counters_keep_the_ttl_of_their_first_increment() -> None:
    clock = _Clock()
    cache = MemoryCache(clock=clock)
    assert [await cache.incr("c", ttl_seconds=5) for _ in range(3)] == [1, 2, 3]
    clock.now = 4
    assert await cache.incr("c", ttl_seconds=5) == 4
    clock.now = 6
    assert await cache.incr("c", ttl_seconds=5) == 1


async def test_cache_aside_loads_once_then_serves_from_the_cache() -> None:
    cache = MemoryCache()
    load = AsyncMock(return_value=b"user")
    assert await cache_aside(cache, "u", load, ttl_seconds=60) == b"user"
    assert await cache_aside(cache, "u", load, ttl_seconds=60) == b"user"
    load.assert_awaited_once()


async def test_cache_aside_does_not_cache_a_miss() -> None:
    cache = MemoryCache()
    load = AsyncMock(return_value=None)
    assert await cache_aside(cache, "u", load, ttl_seconds=60) is None
    assert await cache.get("u") is None


async def test_cache_aside_reads_the_source_when_the_cache_is_down() -> None:
    broken = AsyncMock()
    broken.get.side_effect = CacheUnavailableError("down")
    broken.set.side_effect = CacheUnavailableError("down")
    load = AsyncMock(return_value=b"from-db")
    assert await cache_aside(broken, "u", load, ttl_seconds=60) == b"from-db"
    load.assert_awaited_once()
