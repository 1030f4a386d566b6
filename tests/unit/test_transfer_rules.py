"""The rules of a transfer, on the embedded database: wallets decides, transactions records."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update

from tests.unit import transfers
from tests.unit.signing import new_token_keys
from tijori.common.auth import PaymentTokenError
from tijori.common.cache import MemoryCache
from tijori.common.db import UnitOfWorkFactory
from tijori.common.errors import ConflictError, NotFoundError, ProblemError, UnprocessableError
from tijori.common.events import (
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    WalletCreated,
    parse_event,
)
from tijori.common.phone import normalize_handle
from tijori.transactions import acceptance, directory, settlement
from tijori.transactions.acceptor import TransferAcceptor
from tijori.transactions.models import Account, Transaction
from tijori.transactions.models import OutboxMessage as TxOutbox
from tijori.transactions.repository import TransactionRepository
from tijori.wallets import service as wallets
from tijori.wallets.models import LedgerEntry, Wallet
from tijori.wallets.models import OutboxMessage as WalletOutbox

# users' keys: what signs the payment tokens the transfers here carry
KEYS = new_token_keys()


async def _open(units: UnitOfWorkFactory, user_id: str) -> Wallet:
    user = UserCreated(
        user_id=user_id, name=user_id, email=f"{user_id}@x.co", phone="+919876543210"
    )
    async with units() as uow:
        result = await wallets.open_wallet(uow, user=user, promo_paise=10_000)
        await uow.commit()
        return result


def _initiated(amount: int, sender: str = "a", receiver: str = "b") -> TransactionInitiated:
    return TransactionInitiated(
        transaction_id=str(uuid.uuid4()),
        sender_id=sender,
        receiver_id=receiver,
        amount_paise=amount,
    )


async def _apply(units: UnitOfWorkFactory, transfer: TransactionInitiated) -> object:
    async with units() as uow:
        result = await wallets.apply_transfer(uow, transfer=transfer)
        await uow.commit()
        return result


async def test_a_transfer_that_fits_moves_money_as_one_pair(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _open(wallets_units, "b")
    outcome = await _apply(wallets_units, transfer := _initiated(2_550))
    assert isinstance(outcome, TransferCompleted)
    assert (outcome.sender_balance_paise, outcome.receiver_balance_paise) == (7_450, 12_550)
    assert (outcome.sender_version, outcome.receiver_version) == (2, 2)
    async with wallets_units() as uow:
        amounts = (
            await uow.session.scalars(
                select(LedgerEntry.amount_paise).where(
                    LedgerEntry.reference == transfer.transaction_id
                )
            )
        ).all()
    assert sorted(amounts) == [-2_550, 2_550]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [("poor", "insufficient_funds"), ("frozen", "wallet_frozen"), ("missing", "wallet_not_found")],
)
async def test_a_refused_transfer_moves_nothing_and_says_why(
    wallets_units: UnitOfWorkFactory, setup: str, reason: str
) -> None:
    await _open(wallets_units, "a")
    if setup != "missing":
        await _open(wallets_units, "b")
    if setup == "frozen":
        async with wallets_units() as uow:
            await uow.session.execute(
                update(Wallet).where(Wallet.user_id == "a").values(status="FROZEN")
            )
            await uow.commit()
    amount = 10_001 if setup == "poor" else 100
    outcome = await _apply(wallets_units, _initiated(amount))
    assert isinstance(outcome, TransferRejected) and outcome.reason == reason
    async with wallets_units() as uow:
        balance = await uow.session.scalar(
            select(Wallet.balance_paise).where(Wallet.user_id == "a")
        )
        transfers = await uow.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "TRANSFER")
        )
    assert (balance, transfers) == (10_000, 0)


async def test_the_same_transaction_applied_again_repeats_its_outcome_and_moves_nothing(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _open(wallets_units, "b")
    transfer = _initiated(6_000)
    first = await _apply(wallets_units, transfer)
    again = await _apply(wallets_units, transfer)
    assert first == again
    refused = _initiated(6_000)
    assert isinstance(await _apply(wallets_units, refused), TransferRejected)
    async with wallets_units() as uow:
        await uow.session.execute(
            update(Wallet).where(Wallet.user_id == "a").values(balance_paise=10**6)
        )
        await uow.commit()
    # a refusal is final too: money that arrives later does not revive it
    assert isinstance(await _apply(wallets_units, refused), TransferRejected)
    async with wallets_units() as uow:
        outbox = (
            await uow.session.scalars(select(WalletOutbox.topic).order_by(WalletOutbox.id))
        ).all()
        entries = await uow.session.scalar(select(func.count()).select_from(LedgerEntry))
    assert outbox[-4:] == [
        "transfer.completed",
        "transfer.completed",
        "transfer.rejected",
        "transfer.rejected",
    ]
    assert entries == 4 + 2


async def test_accepting_stores_pending_with_its_event_and_counts_pending_debits(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    accepted = await transfers.accept(transactions_units, known, "60.00")
    assert accepted.transaction.status == "PENDING" and not accepted.replayed
    with pytest.raises(UnprocessableError) as refused:
        await transfers.accept(transactions_units, known, "40.01")
    assert refused.value.code == "insufficient_funds"
    async with transactions_units() as uow:
        [row] = (await uow.session.scalars(select(TxOutbox))).all()
    event = parse_event(row.body)
    assert event.type == "transaction.initiated"
    assert event.payload.amount_paise == 6_000 and event.payload.receiver_id == "ravi"


async def test_idempotency_keys_replay_or_conflict(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    first = await transfers.accept(transactions_units, known, "1.00", key="k1", note="x")
    again = await transfers.accept(transactions_units, known, "1", key="k1", note="x")
    assert again.replayed and again.transaction.id == first.transaction.id
    with pytest.raises(ConflictError):
        await transfers.accept(transactions_units, known, "1.00", key="k1", note="y")


async def test_unknown_receivers_self_transfers_and_ceilings_are_refused(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    async with transactions_units() as uow:
        with pytest.raises(NotFoundError):
            await directory.resolve_recipient(uow, known, "nobody@x.co", ttl_seconds=60)
    for receiver, code in (("asha@x.co", "self_transfer"), ("not-a-phone", "invalid_receiver")):
        with pytest.raises(UnprocessableError) as refused:
            await transfers.check(transactions_units, known, "1", receiver=receiver)
        assert refused.value.code == code
    with pytest.raises(UnprocessableError) as ceiling:
        await transfers.accept(transactions_units, known, "100000.01")
    assert ceiling.value.code == "invalid_amount"


async def test_an_outcome_settles_a_transaction_once_and_stale_balances_are_ignored(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    txn = (await transfers.accept(transactions_units, known, "10.00")).transaction
    completed = TransferCompleted(
        transaction_id=txn.id,
        sender_id="asha",
        receiver_id="ravi",
        amount_paise=1_000,
        sender_balance_paise=9_000,
        sender_version=5,
        receiver_balance_paise=11_000,
        receiver_version=5,
    )
    for _ in range(2):
        async with transactions_units() as uow:
            await settlement.settle(uow, outcome=completed)
            await uow.commit()
    stale = WalletCreated(
        **(transfers.wallet_created("asha").model_dump() | {"balance_paise": 1, "version": 3})
    )
    async with transactions_units() as uow:
        await directory.remember_wallet(uow, known, stale, ttl_seconds=60)
        await uow.commit()
    async with transactions_units() as uow:
        settled = await uow.session.scalar(select(Transaction).where(Transaction.id == txn.id))
        account = await uow.session.get(Account, "asha")
        completions = (
            await uow.session.scalars(
                select(TxOutbox.topic).where(TxOutbox.topic == "transaction.completed")
            )
        ).all()
    assert settled is not None and settled.status == "SUCCESS"
    assert account is not None and (account.balance_paise, account.version) == (9_000, 5)
    assert len(completions) == 1


async def test_outcomes_settled_in_one_batch_settle_each_once_with_the_newest_balances(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    first = (await transfers.accept(transactions_units, known, "10.00")).transaction
    second = (await transfers.accept(transactions_units, known, "20.00")).transaction

    def completed(txn: Transaction, sender: int, receiver: int, version: int) -> TransferCompleted:
        return TransferCompleted(
            transaction_id=txn.id,
            sender_id="asha",
            receiver_id="ravi",
            amount_paise=txn.amount_paise,
            sender_balance_paise=sender,
            sender_version=version,
            receiver_balance_paise=receiver,
            receiver_version=version,
        )

    batch = [
        completed(first, 9_000, 11_000, 2),
        completed(first, 9_000, 11_000, 2),  # the same outcome again, after a re-drive
        completed(second, 7_000, 13_000, 3),
    ]
    async with transactions_units() as uow:
        await TransactionRepository(uow).prefetch_outcomes(batch)
        for outcome in batch:
            await settlement.settle(uow, outcome=outcome)
        await uow.commit()
    async with transactions_units() as uow:
        statuses = (await uow.session.scalars(select(Transaction.status))).all()
        account = await uow.session.get(Account, "asha")
        completions = await uow.session.scalar(
            select(func.count()).where(TxOutbox.topic == "transaction.completed")
        )
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert account is not None and (account.balance_paise, account.version) == (7_000, 3)
    assert completions == 2


def _codes(results: list[acceptance.Accepted | ProblemError]) -> list[str]:
    return [
        result.code if isinstance(result, ProblemError) else ("replay" if result.replayed else "ok")
        for result in results
    ]


async def test_a_batch_decides_in_order_counting_what_it_accepted_before(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    batch = [
        await transfers.candidate(transactions_units, known, amount)
        for amount in ("60.00", "30.00", "20.00", "10.00")
    ]
    async with transactions_units() as uow:
        results = await acceptance.accept_batch(uow, batch)
        await uow.commit()
    # ₹100 known: 60 and 30 fit, 20 does not (10 left), 10 does
    assert _codes(results) == ["ok", "ok", "insufficient_funds", "ok"]
    async with transactions_units() as uow:
        pending = (await uow.session.scalars(select(Transaction.amount_paise))).all()
        events = await uow.session.scalar(select(func.count()).select_from(TxOutbox))
    assert sorted(pending) == [1_000, 3_000, 6_000] and events == 3


async def test_a_key_used_twice_in_one_batch_or_before_it_replays_or_conflicts(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    earlier = await transfers.accept(transactions_units, known, "5.00", key="before")
    batch = [
        await transfers.candidate(transactions_units, known, "1.00", key="k"),
        await transfers.candidate(transactions_units, known, "1.00", key="k"),
        await transfers.candidate(transactions_units, known, "2.00", key="k"),
        await transfers.candidate(transactions_units, known, "5.00", key="before"),
    ]
    async with transactions_units() as uow:
        results = await acceptance.accept_batch(uow, batch)
        await uow.commit()
    assert _codes(results) == ["ok", "replay", "idempotency_key_reused", "replay"]
    first, again, _, before = results
    assert isinstance(first, acceptance.Accepted) and isinstance(again, acceptance.Accepted)
    assert again.transaction.id == first.transaction.id
    assert isinstance(before, acceptance.Accepted)
    assert before.transaction.id == earlier.transaction.id
    async with transactions_units() as uow:
        stored = await uow.session.scalar(select(func.count()).select_from(Transaction))
    assert stored == 2


async def test_concurrent_requests_are_stored_together_and_each_gets_its_answer(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    acceptor = TransferAcceptor(transactions_units)
    candidates = [await transfers.candidate(transactions_units, known, "9.00") for _ in range(12)]
    outcomes = await asyncio.gather(
        *(acceptor.accept(candidate) for candidate in candidates), return_exceptions=True
    )
    accepted = [o for o in outcomes if isinstance(o, acceptance.Accepted)]
    refused = [o for o in outcomes if isinstance(o, ProblemError)]
    assert len(accepted) == 11  # ₹100 covers eleven of ₹9
    assert [r.code for r in refused] == ["insufficient_funds"]
    assert acceptor.batches < 12  # the requests that waited were stored together
    async with transactions_units() as uow:
        ids = set((await uow.session.scalars(select(Transaction.id))).all())
    assert ids == {a.transaction.id for a in accepted}


def test_the_request_hash_ignores_formatting_but_not_content() -> None:
    one = acceptance.request_hash(handle="+919876543210", amount_paise=100, note=None)
    assert one == acceptance.request_hash(handle="+919876543210", amount_paise=100, note=None)
    assert one != acceptance.request_hash(handle="+919876543210", amount_paise=101, note=None)
    assert normalize_handle(" 98765 43210 ") == "+919876543210"
    assert normalize_handle("Ravi@Example.COM") == "ravi@example.com"


async def test_a_key_stored_by_a_twin_request_meanwhile_answers_with_its_transaction(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    """What the acceptor answers when inserting a candidate's rows failed because
    another process stored its key while the candidate was being decided, or (no key
    stored) because its payment token authorised another transaction."""
    # checked before the twin was stored, as a racing request is
    same = await transfers.candidate(transactions_units, known, "3.00", key="twin")
    other = await transfers.candidate(transactions_units, known, "4.00", key="twin")
    fresh = await transfers.candidate(transactions_units, known, "3.00", key="never-stored")
    twin = await transfers.accept(transactions_units, known, "3.00", key="twin")
    async with transactions_units() as uow:
        replayed = await acceptance.replay_after_race(uow, same)
        assert replayed.replayed and replayed.transaction.id == twin.transaction.id
        assert replayed.names == {"asha": "Asha", "ravi": "Ravi"}
        with pytest.raises(ConflictError) as conflict:
            await acceptance.replay_after_race(uow, other)
        assert conflict.value.code == "idempotency_key_reused"
        with pytest.raises(PaymentTokenError) as used:
            await acceptance.replay_after_race(uow, fresh)
        assert used.value.code == "payment_token_invalid"
