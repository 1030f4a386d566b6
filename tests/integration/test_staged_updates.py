"""Staged updates (``UnitOfWork.update``) on MariaDB itself: the commit counts the rows an
``UPDATE`` matched, not the rows it changed, so a staged row whose values did not change
is no error, and a staged row that is missing still fails the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import BigInteger, String, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from tijori.common.db import UnitOfWork, create_engine, create_sessionmaker


class _Base(DeclarativeBase):
    pass


class _Account(_Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    balance_paise: Mapped[int] = mapped_column(BigInteger)


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_database)
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
        await connection.execute(
            _Account.__table__.insert(),  # type: ignore[attr-defined]
            [{"id": "a", "balance_paise": 100}, {"id": "b", "balance_paise": 200}],
        )
    yield engine
    await engine.dispose()


async def _balances(engine: AsyncEngine) -> dict[str, int]:
    async with create_sessionmaker(engine)() as session:
        rows = await session.execute(select(_Account.id, _Account.balance_paise))
        return {account_id: balance for account_id, balance in rows}


async def _held(uow: UnitOfWork) -> list[_Account]:
    accounts = list((await uow.session.scalars(select(_Account).order_by(_Account.id))).all())
    uow.hold(accounts)
    return accounts


async def test_a_staged_row_whose_values_do_not_change_is_found(engine: AsyncEngine) -> None:
    async with UnitOfWork(create_sessionmaker(engine)) as uow:
        a, b = await _held(uow)
        uow.update(a, balance_paise=100)  # as it is
        uow.update(b, balance_paise=250)
        await uow.commit()
    assert await _balances(engine) == {"a": 100, "b": 250}


async def test_a_missing_staged_row_fails_the_commit_on_mariadb(engine: AsyncEngine) -> None:
    with pytest.raises(StaleDataError):
        async with UnitOfWork(create_sessionmaker(engine)) as uow:
            a, b = await _held(uow)
            uow.update(a, balance_paise=0)
            uow.update(b, balance_paise=100)
            await uow.session.execute(delete(_Account).where(_Account.id == "b"))
            await uow.commit()
    assert await _balances(engine) == {"a": 100, "b": 200}
