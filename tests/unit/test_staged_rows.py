"""Rows staged for the commit (``insert_at_commit``, ``update_at_commit``): written with
the transaction, inserts in order after the rows they refer to, updates of many rows in
one statement; never written when it rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tests.unit.conftest import SessionFactory
from tijori.common.db import hold, insert_at_commit, update_at_commit, utcnow, values_of
from tijori.wallets.models import LedgerEntry, Wallet


def _entry(wallet_id: str, reference: str, paise: int) -> dict[str, object]:
    return {
        "wallet_id": wallet_id,
        "counterparty_wallet_id": wallet_id,
        "reference": reference,
        "kind": "TRANSFER",
        "amount_paise": paise,
        "balance_after_paise": paise,
        "created_at": utcnow(),
    }


async def _entries(sessions: SessionFactory) -> list[tuple[str, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(LedgerEntry.reference, LedgerEntry.amount_paise).order_by(LedgerEntry.id)
        )
        return [(reference, paise) for reference, paise in rows]


async def test_staged_rows_go_in_at_commit_in_order_after_the_rows_they_refer_to(
    wallets_sessions: SessionFactory,
) -> None:
    # no autoflush: only the commit's own flush puts the wallet in before its entries
    async with wallets_sessions(autoflush=False) as session, session.begin():
        session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        insert_at_commit(session, LedgerEntry, _entry("w1", "b", 2))
        insert_at_commit(session, LedgerEntry, _entry("w1", "a", 1), _entry("w1", "c", 3))
        # nothing written before the commit, as this transaction itself sees
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    assert await _entries(wallets_sessions) == [("b", 2), ("a", 1), ("c", 3)]


async def test_a_rolled_back_transaction_forgets_its_staged_rows(
    wallets_sessions: SessionFactory,
) -> None:
    async with wallets_sessions() as session:
        session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        await session.commit()
        with pytest.raises(RuntimeError):
            async with session.begin():
                insert_at_commit(session, LedgerEntry, _entry("w1", "lost", 5))
                raise RuntimeError("the handler failed")
        async with session.begin():  # the same session's next transaction
            insert_at_commit(session, LedgerEntry, _entry("w1", "kept", 7))
    assert await _entries(wallets_sessions) == [("kept", 7)]


async def test_a_staged_row_that_cannot_go_in_fails_the_commit_and_undoes_the_rest(
    wallets_sessions: SessionFactory,
) -> None:
    async with wallets_sessions() as session, session.begin():
        session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        insert_at_commit(session, LedgerEntry, _entry("w1", "t1", 5))
    with pytest.raises(IntegrityError):
        async with wallets_sessions() as session, session.begin():
            wallet = await session.get(Wallet, "w1")
            assert wallet is not None
            wallet.balance_paise = 10  # an ORM change in the same transaction
            insert_at_commit(session, LedgerEntry, _entry("w1", "t1", 5))  # posted already
    async with wallets_sessions() as session:
        wallet = await session.get(Wallet, "w1")
        assert wallet is not None and wallet.balance_paise == 0
    assert await _entries(wallets_sessions) == [("t1", 5)]


@contextmanager
def _updates_sent(sessions: SessionFactory) -> Iterator[list[str]]:
    """The UPDATE statements the engine sends meanwhile."""
    engine = sessions.kw["bind"].sync_engine
    sent: list[str] = []

    def record(*args: Any) -> None:
        statement = args[2]
        if statement.lstrip().upper().startswith("UPDATE"):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _balances(sessions: SessionFactory) -> dict[str, tuple[int, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Wallet.id, Wallet.balance_paise, Wallet.version).where(
                Wallet.user_id.is_not(None)  # not the promotions account
            )
        )
        return {wallet_id: (balance, version) for wallet_id, balance, version in rows}


async def _three_wallets(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        for n in (1, 2, 3):
            session.add(Wallet(id=f"w{n}", user_id=f"u{n}", balance_paise=100, version=0))


async def test_staged_updates_of_many_rows_go_in_at_commit_in_one_statement(
    wallets_sessions: SessionFactory,
) -> None:
    await _three_wallets(wallets_sessions)
    with _updates_sent(wallets_sessions) as sent:
        async with wallets_sessions() as session, session.begin():
            wallets = (
                await session.scalars(
                    select(Wallet).where(Wallet.user_id.is_not(None)).order_by(Wallet.id)
                )
            ).all()
            hold(session, wallets)
            for wallet, balance in zip(wallets, (70, 130, 100), strict=True):
                wallet.balance_paise, wallet.version = balance, 1
                update_at_commit(session, Wallet, values_of(wallet, "balance_paise", "version"))
            wallets[0].balance_paise, wallets[0].version = 50, 2  # staged again: the latest
            update_at_commit(session, Wallet, values_of(wallets[0], "balance_paise", "version"))
            insert_at_commit(session, LedgerEntry, _entry("w1", "t1", -50))
            # nothing written before the commit, as this transaction itself sees
            assert await session.scalar(select(func.sum(Wallet.balance_paise))) == 300
    assert len(sent) == 1, sent
    assert await _balances(wallets_sessions) == {"w1": (50, 2), "w2": (130, 1), "w3": (100, 1)}
    assert await _entries(wallets_sessions) == [("t1", -50)]


async def test_held_objects_are_written_only_by_their_staged_updates(
    wallets_sessions: SessionFactory,
) -> None:
    await _three_wallets(wallets_sessions)
    async with wallets_sessions() as session, session.begin():
        w1, w2, _ = (
            await session.scalars(
                select(Wallet).where(Wallet.user_id.is_not(None)).order_by(Wallet.id)
            )
        ).all()
        hold(session, [w1, w2])
        w1.balance_paise = 1  # held and never staged: not written
        w2.balance_paise = 2
        update_at_commit(session, Wallet, values_of(w2, "balance_paise"))
    balances = await _balances(wallets_sessions)
    assert (balances["w1"], balances["w2"]) == ((100, 0), (2, 0))


async def test_a_staged_update_of_a_missing_row_fails_the_commit_and_undoes_the_rest(
    wallets_sessions: SessionFactory,
) -> None:
    await _three_wallets(wallets_sessions)
    with pytest.raises(StaleDataError):
        async with wallets_sessions() as session, session.begin():
            update_at_commit(
                session,
                Wallet,
                {"id": "w1", "balance_paise": 0},
                {"id": "gone", "balance_paise": 100},
            )
            insert_at_commit(session, LedgerEntry, _entry("w1", "t1", -100))
    assert (await _balances(wallets_sessions))["w1"] == (100, 0)
    assert await _entries(wallets_sessions) == []


async def test_a_rolled_back_transaction_forgets_its_staged_updates(
    wallets_sessions: SessionFactory,
) -> None:
    await _three_wallets(wallets_sessions)
    async with wallets_sessions() as session:
        with pytest.raises(RuntimeError):
            async with session.begin():
                update_at_commit(session, Wallet, {"id": "w1", "balance_paise": 0})
                raise RuntimeError("the handler failed")
        async with session.begin():  # the same session's next transaction
            update_at_commit(session, Wallet, {"id": "w2", "balance_paise": 7})
    balances = await _balances(wallets_sessions)
    assert (balances["w1"], balances["w2"]) == ((100, 0), (7, 0))
