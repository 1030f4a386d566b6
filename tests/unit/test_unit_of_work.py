"""The unit of work: rows staged for the commit are written with the transaction (inserts
in order after the rows they refer to, updates of many rows in one statement) and never
when it rolls back; a held row changes only through its one write path, or the change
raises; what a transaction remembered is forgotten when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tests.unit.statements import statements_sent
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork, UnitOfWorkFactory, UnstagedChangeError
from tijori.wallets.models import LedgerEntry, Wallet, WalletFreeze
from tijori.wallets.repository import WalletRepository


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


async def _entries(units: UnitOfWorkFactory) -> list[tuple[str, int]]:
    async with units() as uow:
        rows = await uow.session.execute(
            select(LedgerEntry.reference, LedgerEntry.amount_paise).order_by(LedgerEntry.id)
        )
        return [(reference, paise) for reference, paise in rows]


async def test_staged_rows_go_in_at_commit_in_order_after_the_rows_they_refer_to(
    wallets_units: UnitOfWorkFactory,
) -> None:
    async with wallets_units() as uow:
        uow.insert_at_commit(LedgerEntry, _entry("w1", "b", 2))
        uow.insert_at_commit(LedgerEntry, _entry("w1", "a", 1), _entry("w1", "c", 3))
        # nothing written before the commit, as this transaction itself sees
        assert await uow.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        # added after the last query: only the commit's own flush puts it in before
        # the entries that refer to it (a foreign key)
        uow.session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        await uow.commit()
    assert await _entries(wallets_units) == [("b", 2), ("a", 1), ("c", 3)]


async def test_a_rolled_back_transaction_forgets_its_staged_rows_and_hooks(
    wallets_units: UnitOfWorkFactory,
) -> None:
    ran: list[str] = []
    async with wallets_units() as uow:
        uow.session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        await uow.commit()
        uow.insert_at_commit(LedgerEntry, _entry("w1", "lost", 5))
        uow.after_commit(lambda: ran.append("lost"))
        await uow.rollback()
        uow.insert_at_commit(LedgerEntry, _entry("w1", "kept", 7))  # the next transaction
        uow.after_commit(lambda: ran.append("kept"))
        await uow.commit()
    with pytest.raises(RuntimeError):
        async with wallets_units() as uow:
            uow.insert_at_commit(LedgerEntry, _entry("w1", "never", 9))
            raise RuntimeError("the handler failed")
    assert await _entries(wallets_units) == [("kept", 7)]
    assert ran == ["kept"]


async def test_leaving_without_commit_writes_nothing(wallets_units: UnitOfWorkFactory) -> None:
    async with wallets_units() as uow:
        uow.session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        uow.insert_at_commit(LedgerEntry, _entry("w1", "t1", 5))
    async with wallets_units() as uow:
        assert await uow.session.get(Wallet, "w1") is None
    assert await _entries(wallets_units) == []


async def test_a_staged_row_that_cannot_go_in_fails_the_commit_and_undoes_the_rest(
    wallets_units: UnitOfWorkFactory,
) -> None:
    async with wallets_units() as uow:
        uow.session.add(Wallet(id="w1", user_id="u1", balance_paise=0, version=0))
        uow.insert_at_commit(LedgerEntry, _entry("w1", "t1", 5))
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with wallets_units() as uow:
            [wallet] = (await WalletRepository(uow).lock("w1")).values()
            uow.update(wallet, balance_paise=10)  # a change in the same transaction
            uow.insert_at_commit(LedgerEntry, _entry("w1", "t1", 5))  # posted already
            await uow.commit()
    async with wallets_units() as uow:
        wallet = await uow.session.get(Wallet, "w1")
        assert wallet is not None and wallet.balance_paise == 0
    assert await _entries(wallets_units) == [("t1", 5)]


@contextmanager
def _updates_sent(uow: UnitOfWork) -> Iterator[list[str]]:
    """The UPDATE statements the engine sends meanwhile (listed when the block ends)."""
    with statements_sent(uow) as sent:
        updates: list[str] = []
        yield updates
    updates += [statement for statement in sent if statement.lstrip().upper().startswith("UPDATE")]


async def _balances(units: UnitOfWorkFactory) -> dict[str, tuple[int, int, str]]:
    async with units() as uow:
        rows = await uow.session.execute(
            select(Wallet.id, Wallet.balance_paise, Wallet.version, Wallet.status).where(
                Wallet.user_id.is_not(None)  # not the promotions account
            )
        )
        return {
            wallet_id: (balance, version, status) for wallet_id, balance, version, status in rows
        }


async def _three_wallets(units: UnitOfWorkFactory) -> None:
    async with units() as uow:
        for n in (1, 2, 3):
            uow.session.add(Wallet(id=f"w{n}", user_id=f"u{n}", balance_paise=100, version=0))
        await uow.commit()


async def test_staged_updates_of_many_rows_go_in_at_commit_in_one_statement(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _three_wallets(wallets_units)
    async with wallets_units() as uow:
        with _updates_sent(uow) as sent:
            locked = await WalletRepository(uow).lock_of_users("u1", "u2", "u3")
            wallets = [locked[user] for user in ("u1", "u2", "u3")]
            before = wallets[0].updated_at
            for wallet, balance in zip(wallets, (70, 130, 100), strict=True):
                uow.update(wallet, balance_paise=balance, version=1)
            uow.update(wallets[0], balance_paise=50, version=2)  # staged again: the latest
            uow.insert_at_commit(LedgerEntry, _entry("w1", "t1", -50))
            # nothing written before the commit, as this transaction itself sees
            assert await uow.session.scalar(select(func.sum(Wallet.balance_paise))) == 300
            await uow.commit()
    assert len(sent) == 1, sent
    assert await _balances(wallets_units) == {
        "w1": (50, 2, "ACTIVE"),
        "w2": (130, 1, "ACTIVE"),
        "w3": (100, 1, "ACTIVE"),
    }
    assert await _entries(wallets_units) == [("t1", -50)]
    async with wallets_units() as uow:
        stored = await uow.session.get(Wallet, "w1")
        assert stored is not None and stored.updated_at > before  # set by the one write path


async def test_a_change_to_a_held_wallet_persists_through_its_repository_or_raises(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _three_wallets(wallets_units)
    async with wallets_units() as uow:
        repository = WalletRepository(uow)
        locked = await repository.lock_of_users("u1")
        change = WalletFreeze(
            wallet_id="w1",
            user_id="u1",
            action="FREEZE",
            by="USER",
            actor_id="u1",
            reason=None,
            payment_token_id=None,
            created_at=utcnow(),
        )
        repository.set_status(locked["u1"], "FROZEN", change)
        await uow.commit()
    assert (await _balances(wallets_units))["w1"][2] == "FROZEN"

    with pytest.raises(UnstagedChangeError, match="status"):
        async with wallets_units() as uow:
            locked = await WalletRepository(uow).lock_of_users("u2")
            locked["u2"].status = "FROZEN"  # behind the write path's back: would be lost
            await uow.commit()
    with pytest.raises(UnstagedChangeError):
        async with wallets_units() as uow:
            tracked = await WalletRepository(uow).get_by_user("u3")  # read, not locked
            assert tracked is not None
            tracked.balance_paise = 1_000_000
            await uow.commit()
    balances = await _balances(wallets_units)
    assert (balances["w2"], balances["w3"]) == ((100, 0, "ACTIVE"), (100, 0, "ACTIVE"))


async def test_a_staged_update_of_a_missing_row_fails_the_commit_and_undoes_the_rest(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _three_wallets(wallets_units)
    with pytest.raises(StaleDataError):
        async with wallets_units() as uow:
            locked = await WalletRepository(uow).lock("w1", "w3")
            uow.update(locked["w1"], balance_paise=0)
            uow.update(locked["w3"], balance_paise=200)
            # the row is gone before the commit writes it
            await uow.session.execute(delete(Wallet).where(Wallet.id == "w3"))
            uow.insert_at_commit(LedgerEntry, _entry("w1", "t1", -100))
            await uow.commit()
    balances = await _balances(wallets_units)
    assert (balances["w1"], balances["w3"]) == ((100, 0, "ACTIVE"), (100, 0, "ACTIVE"))
    assert await _entries(wallets_units) == []


async def test_the_lock_cache_lives_for_one_transaction(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _three_wallets(wallets_units)
    async with wallets_units() as uow:
        first = (await WalletRepository(uow).lock_of_users("u1"))["u1"]
        assert first.balance_paise == 100
        await uow.commit()
        async with wallets_units() as other:  # another process pays in meanwhile
            await other.session.execute(
                update(Wallet).where(Wallet.id == "w1").values(balance_paise=250, version=1)
            )
            await other.commit()
        # the same unit of work's next transaction locks the row afresh
        again = (await WalletRepository(uow).lock_of_users("u1"))["u1"]
        assert (again.balance_paise, again.version) == (250, 1)
