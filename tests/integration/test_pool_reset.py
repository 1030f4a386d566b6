"""A connection given back to the pool is rolled back only if a transaction is open on it
(``common.db._roll_back_open_transactions``), on MariaDB itself: the server's
in-transaction flag decides, not SQLAlchemy's bookkeeping."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tijori.common.db import create_engine, create_sessionmaker


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    # used one session at a time, so every session gets the same pooled connection
    engine = create_engine(scratch_database, pool_size=1)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INT PRIMARY KEY)"))
    yield engine
    await engine.dispose()


async def _connection_and_rollbacks(sessions: async_sessionmaker) -> tuple[int, int]:
    """The pooled connection's id and how many ``ROLLBACK``s it has run (committing, so
    reading them adds none)."""
    async with sessions() as session, session.begin():
        connection_id = (await session.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        status = await session.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'"))
        return connection_id, int(status.one()[1])


async def test_a_connection_given_back_after_a_commit_is_not_rolled_back(
    engine: AsyncEngine,
) -> None:
    sessions = create_sessionmaker(engine)
    before = await _connection_and_rollbacks(sessions)
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO notes VALUES (1)"))
    async with sessions() as session:
        await session.execute(text("SELECT id FROM notes FOR UPDATE"))
    # the session closing mid-transaction rolled back itself: one ROLLBACK, not two
    connection_id, rollbacks = await _connection_and_rollbacks(sessions)
    assert (connection_id, rollbacks) == (before[0], before[1] + 1)


async def test_a_transaction_left_open_on_a_connection_given_back_is_rolled_back(
    engine: AsyncEngine,
) -> None:
    sessions = create_sessionmaker(engine)
    before, _ = await _connection_and_rollbacks(sessions)
    async with engine.connect() as connection:
        # behind SQLAlchemy's back, so only the server knows a transaction is open
        pooled = await connection.get_raw_connection()
        async with pooled.driver_connection.cursor() as cursor:
            await cursor.execute("INSERT INTO notes VALUES (2)")
    async with sessions() as session:
        connection_id = (await session.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        # the same connection would see its own insert had it not been rolled back
        rows = await session.execute(text("SELECT count(*) FROM notes"))
        assert (connection_id, rows.scalar_one()) == (before, 0)
