"""``DriverRead`` on MariaDB itself: the statement sent on the bare driver reads what Core
reads (the column types' conversions included), and a connection lost under it is
dropped from the pool, raised as SQLAlchemy's ``OperationalError`` (a 503), and
replaced for the next read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Boolean, String, bindparam, func, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.db import READ_POOL_SIZE, UtcDateTime, create_engine, create_read_engine
from tijori.common.db.driver import DriverRead


class _Base(DeclarativeBase):
    pass


class _Person(_Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    verified: Mapped[bool] = mapped_column(Boolean)
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


SEEN = datetime(2026, 12, 2, 5, 30, 15, 250000, tzinfo=UTC)
_BY_ID = select(_Person.id, _Person.verified, _Person.seen_at).where(
    _Person.id == bindparam("person_id")
)


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_database, pool_size=1, autocommit=True)
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
        await connection.execute(
            _Person.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"id": "asha", "verified": True, "seen_at": SEEN},
                {"id": "ravi", "verified": False, "seen_at": None},
            ],
        )
    yield engine
    await engine.dispose()


async def test_it_reads_what_core_reads(engine: AsyncEngine) -> None:
    read = DriverRead(engine, _BY_ID)
    assert read.on_driver  # MariaDB: the statement goes to asyncmy itself
    for person in ("asha", "ravi"):
        async with engine.connect() as connection:
            core = tuple((await connection.execute(_BY_ID, {"person_id": person})).one())
        assert await read.first({"person_id": person}) == core
    assert await read.first({"person_id": "asha"}) == ("asha", True, SEEN)  # a bool, in UTC
    assert await read.first({"person_id": "nobody"}) is None


async def test_a_connection_lost_under_it_is_replaced(engine: AsyncEngine) -> None:
    read = DriverRead(engine, _BY_ID)
    assert await read.first({"person_id": "asha"}) is not None
    # the one pooled connection, killed from another
    raw = await engine.raw_connection()
    async with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        await cursor.execute("SELECT CONNECTION_ID()")
        (victim,) = await cursor.fetchone()
    raw.close()
    killer = create_engine(engine.url.render_as_string(hide_password=False), autocommit=True)
    try:
        async with killer.connect() as connection:
            await connection.execute(text(f"KILL CONNECTION {int(victim)}"))
    finally:
        await killer.dispose()
    with pytest.raises((OperationalError, InterfaceError)):
        await read.first({"person_id": "asha"})  # used within the second: not pinged
    assert await read.first({"person_id": "asha"}) == ("asha", True, SEEN)  # a new one


async def test_a_read_pool_under_load_opens_no_connection_past_its_size(
    scratch_database: str,
) -> None:
    # a burst of reads larger than the pool, three times: each waits for a pooled
    # connection instead of opening one that is closed again (an overflow connection)
    engine = create_read_engine(scratch_database)
    read = DriverRead(engine, select(func.connection_id()))
    try:
        seen: set[int] = set()
        for _ in range(3):
            rows = await asyncio.gather(*(read.first({}) for _ in range(READ_POOL_SIZE * 3)))
            seen.update(row[0] for row in rows if row is not None)
        assert 1 <= len(seen) <= READ_POOL_SIZE
    finally:
        await engine.dispose()
