"""A pooled database connection that died while idle is replaced before it is used."""

from __future__ import annotations

import asyncio

import asyncmy
import pytest
from sqlalchemy import make_url, text

from tests.integration.stack import Stack
from tijori.common.db import PING_AFTER_IDLE_SECONDS, create_engine


async def _kill(url: str, connection_id: int) -> None:
    parsed = make_url(url)
    admin = await asyncmy.connect(
        host=parsed.host, port=parsed.port or 3306, user=parsed.username, password=parsed.password
    )
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"KILL CONNECTION {int(connection_id)}")
    finally:
        admin.close()


async def test_a_pooled_connection_the_server_dropped_is_replaced_before_use(
    stack: Stack,
) -> None:
    url = stack.database_url("wallets")
    if not url.startswith("mysql"):
        pytest.skip("the embedded database is a file: no server drops its connections")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        await _kill(url, first)  # as a restart or wait_timeout would, while it is pooled
        await asyncio.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
        async with engine.connect() as connection:
            second = (await connection.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
