"""The cache: Redis when ``TIJORI_REDIS_URL`` is set, otherwise an in-process one.

The cache is never a source of truth: every value in it can be rebuilt from a database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as redis

log = logging.getLogger(__name__)


class CacheUnavailableError(Exception):
    """The cache could not be reached; callers fall back to the source of truth."""


class Cache(Protocol):
    """What services need from a cache."""

    async def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None."""

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""

    async def delete(self, *keys: str) -> None:
        """Forget ``keys``."""

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        """Add one to the counter under ``key``; the first increment starts its TTL."""

    async def ping(self) -> None:
        """Raise unless the cache answers."""

    async def close(self) -> None:
        """Release connections."""


class RedisCache:
    """A cache in Redis."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(key)
        except redis.RedisError as error:
            raise CacheUnavailableError(str(error)) from error
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        try:
            await self.client.set(key, value, ex=ttl_seconds)
        except redis.RedisError as error:
            raise CacheUnavailableError(str(error)) from error

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self.client.delete(*keys)
        except redis.RedisError as error:
            raise CacheUnavailableError(str(error)) from error

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_seconds, nx=True)
                count, _ = await pipe.execute()
        except redis.RedisError as error:
            raise CacheUnavailableError(str(error)) from error
        return int(count)

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except redis.RedisError as error:
            raise CacheUnavailableError(str(error)) from error

    async def close(self) -> None:
        await self.client.aclose()


class MemoryCache:
    """A cache in this process's memory, for the embedded default and unit tests."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.entries: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self.entries[key]
            return None
        return entry[0]

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        self.entries[key] = (value, self.clock() + ttl_seconds)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self.entries.pop(key, None)

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        current = self._live(key)
        count = int(current or b"0") + 1
        expires = self.entries[key][1] if current is not None else self.clock() + ttl_seconds
        self.entries[key] = (str(count).encode(), expires)
        return count

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self.entries.clear()


def create_cache(url: str | None) -> Cache:
    """Redis at ``url``, or the in-process cache when it is unset."""
    return RedisCache(url) if url else MemoryCache()


async def cache_aside(
    cache: Cache, key: str, load: Callable[[], Awaitable[bytes | None]], *, ttl_seconds: int
) -> bytes | None:
    """Read ``key`` from the cache, else ``load()`` it from the source and cache it.

    A cache that is down is skipped, not fatal: the source of truth still answers.
    """
    try:
        cached = await cache.get(key)
    except CacheUnavailableError:
        log.warning("cache unavailable; reading %s from its source", key)
        cached = None
    if cached is not None:
        return cached
    value = await load()
    if value is not None:
        try:
            await cache.set(key, value, ttl_seconds=ttl_seconds)
        except CacheUnavailableError:
            pass
    return value
