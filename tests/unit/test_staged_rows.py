"""Rows staged for the commit (``insert_at_commit``): written with the transaction, in
order, after the rows they refer to; never written when it rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.unit.conftest import SessionFactory
from tijori.common.db import insert_at_commit, utcnow
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
