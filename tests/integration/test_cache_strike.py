"""``Cache.strike`` (the PIN lock's counter) on real Redis, where it is one Lua script,
and on the in-process cache, which must answer the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from tijori.common.cache import LOCKED, Cache, MemoryCache, RedisCache

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(params=["redis", "memory"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    made: Cache = RedisCache(REDIS_URL) if request.param == "redis" else MemoryCache()
    try:
        yield made
    finally:
        await made.close()


async def test_failures_in_a_row_lock_and_a_success_clears_them(cache: Cache) -> None:
    key = f"test:strike:{uuid4().hex}"

    async def strike(failed: bool) -> int:
        return await cache.strike(key, failed=failed, limit=3, ttl_seconds=60)

    assert [await strike(True), await strike(True)] == [2, 1]
    assert await strike(False) == 3  # cleared: the next failure counts from one
    assert [await strike(True), await strike(True), await strike(True)] == [2, 1, 0]
    assert await strike(False) == LOCKED  # a success does not unlock
    assert await strike(True) == LOCKED
    other = await cache.strike(f"{key}:other", failed=True, limit=3, ttl_seconds=60)
    assert other == 2


async def test_concurrent_failures_get_exactly_the_limit_then_the_lock(cache: Cache) -> None:
    key = f"test:strike:{uuid4().hex}"
    answers = await asyncio.gather(
        *(cache.strike(key, failed=True, limit=3, ttl_seconds=60) for _ in range(30))
    )
    assert sorted(answers) == [LOCKED] * 27 + [0, 1, 2]


async def test_the_lock_expires_after_its_ttl_on_redis() -> None:
    cache = RedisCache(REDIS_URL)
    key = f"test:strike:{uuid4().hex}"
    try:
        for _ in range(2):
            await cache.strike(key, failed=True, limit=2, ttl_seconds=1)
        assert await cache.strike(key, failed=False, limit=2, ttl_seconds=1) == LOCKED
        await asyncio.sleep(1.2)
        assert await cache.strike(key, failed=False, limit=2, ttl_seconds=1) == 2
    finally:
        await cache.close()
