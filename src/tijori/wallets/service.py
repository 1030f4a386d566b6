"""Business rules of the wallets service."""

from __future__ import annotations

import logging
from typing import Any

from tijori.common.db import UnitOfWork
from tijori.common.events import (
    EVENT_TYPES,
    Envelope,
    Payload,
    RejectionReason,
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    WalletCreated,
)
from tijori.common.metrics import LEDGER_TRANSFERS, count_after_commit
from tijori.common.outbox import add_to_outbox
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.models import PROMOTIONS_WALLET_ID, OutboxMessage, Transfer, Wallet
from tijori.wallets.repository import WalletRepository

log = logging.getLogger(__name__)


def promotion_reference(user_id: str) -> str:
    """The ledger reference of the sign-up promotion of ``user_id``."""
    return f"promo:{user_id}"


async def open_wallet(
    uow: UnitOfWork,
    *,
    user: UserCreated,
    promo_paise: int,
    correlation_id: str | None = None,
) -> Wallet:
    """Open the wallet of a new user, credit the promotion and stage ``wallet.created``.

    Opening is idempotent on the user: a second call returns the existing wallet and
    moves no money (the unique ``user_id`` and ledger reference also forbid it).
    """
    repository = WalletRepository(uow)
    existing = await repository.get_by_user(user.user_id)
    if existing is not None:
        log.info("wallet of user %s already exists", user.user_id)
        return existing
    wallet = Wallet(
        user_id=user.user_id,
        kind="USER",
        email=user.email,
        phone=user.phone,
        balance_paise=0,
        version=0,
    )
    await repository.open(wallet)
    if promo_paise > 0:
        promotions = (await repository.lock(PROMOTIONS_WALLET_ID))[PROMOTIONS_WALLET_ID]
        pair = LedgerPair.move(
            source=promotions,
            destination=wallet,
            paise=promo_paise,
            reference=promotion_reference(user.user_id),
            kind="PROMOTION",
        )
        repository.post(pair)
    emit(
        uow,
        WalletCreated(
            wallet_id=wallet.id,
            user_id=user.user_id,
            name=user.name,
            email=user.email,
            phone=user.phone,
            balance_paise=wallet.balance_paise,
            version=wallet.version,
        ),
        key=user.user_id,
        correlation_id=correlation_id,
    )
    return wallet


async def apply_transfer(
    uow: UnitOfWork,
    *,
    transfer: TransactionInitiated,
    correlation_id: str | None = None,
) -> Payload:
    """Apply one transaction atomically, or refuse it; stage the outcome event.

    Both wallets are locked in user id order before anything is read for the decision. A
    transaction already decided (the same one sent again) repeats its recorded outcome
    and moves nothing.
    """
    repository = WalletRepository(uow)
    locked = await repository.lock_of_users(transfer.sender_id, transfer.receiver_id)
    sender, receiver = locked.get(transfer.sender_id), locked.get(transfer.receiver_id)
    recorded = await repository.get_transfer(transfer.transaction_id)
    if recorded is not None:
        log.info(
            "transaction %s was already %s; repeating its outcome",
            recorded.transaction_id,
            recorded.status,
        )
        repeated = EVENT_TYPES[recorded.outcome_type].model_validate_json(recorded.outcome)
        emit(uow, repeated, key=transfer.sender_id, correlation_id=correlation_id)
        return repeated

    reason: RejectionReason | None = None
    if sender is None or receiver is None or sender.id == receiver.id:
        reason = "wallet_not_found"
    elif "FROZEN" in (sender.status, receiver.status):
        reason = "wallet_frozen"
    elif sender.balance_paise - sender.held_paise < transfer.amount_paise:
        reason = "insufficient_funds"

    outcome: Payload
    if reason is None:
        assert sender is not None and receiver is not None
        pair = LedgerPair.move(
            source=sender,
            destination=receiver,
            paise=transfer.amount_paise,
            reference=transfer.transaction_id,
            kind="TRANSFER",
        )
        repository.post(pair)
        outcome = TransferCompleted(
            transaction_id=transfer.transaction_id,
            sender_id=transfer.sender_id,
            receiver_id=transfer.receiver_id,
            amount_paise=transfer.amount_paise,
            sender_balance_paise=sender.balance_paise,
            sender_version=sender.version,
            receiver_balance_paise=receiver.balance_paise,
            receiver_version=receiver.version,
        )
    else:
        outcome = TransferRejected(
            transaction_id=transfer.transaction_id,
            sender_id=transfer.sender_id,
            receiver_id=transfer.receiver_id,
            amount_paise=transfer.amount_paise,
            reason=reason,
            sender_balance_paise=sender.balance_paise if sender is not None else None,
            sender_version=sender.version if sender is not None else None,
        )
    event = emit(uow, outcome, key=transfer.sender_id, correlation_id=correlation_id)
    count_after_commit(
        uow,
        LEDGER_TRANSFERS.labels(
            outcome="APPLIED" if reason is None else "REJECTED", reason=reason or ""
        ),
    )
    repository.record(
        Transfer(
            transaction_id=transfer.transaction_id,
            status="APPLIED" if reason is None else "REJECTED",
            reason=reason,
            outcome_type=event.type,
            outcome=outcome.model_dump_json(),
            created_at=event.occurred_at,
        )
    )
    return outcome


def emit(
    uow: UnitOfWork, payload: Payload, *, key: str, correlation_id: str | None
) -> Envelope[Any]:
    """Stage ``payload`` in the wallets outbox, keyed (partitioned) by ``key``."""
    return add_to_outbox(uow, OutboxMessage, payload, key=key, correlation_id=correlation_id)
