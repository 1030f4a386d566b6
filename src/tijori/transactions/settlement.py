"""Driving a transfer to its end: the wallets service's decision, and re-drives of
transfers PENDING too long."""

from __future__ import annotations

import logging
from datetime import timedelta

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.events import Party, TransactionCompleted, TransferCompleted, TransferRejected
from tijori.common.metrics import TRANSFERS, count_after_commit
from tijori.common.outbox import add_to_outbox
from tijori.transactions.acceptance import initiate
from tijori.transactions.models import OutboxMessage, Transaction
from tijori.transactions.repository import TransactionRepository

log = logging.getLogger(__name__)


async def redrive_stale(uow: UnitOfWork, *, pending_for: timedelta, limit: int = 200) -> int:
    """Send ``transaction.initiated`` again for transactions PENDING longer than ``pending_for``."""
    repository = TransactionRepository(uow)
    stale = await repository.stale_pending(older_than=utcnow() - pending_for, limit=limit)
    for transaction in stale:
        repository.mark_redriven(transaction)
        initiate(uow, transaction, correlation_id=f"redrive-{transaction.redrives}")
        log.warning(
            "re-driving transaction %s, PENDING since %s", transaction.id, transaction.created_at
        )
    return len(stale)


async def settle(
    uow: UnitOfWork,
    *,
    outcome: TransferCompleted | TransferRejected,
    correlation_id: str | None = None,
) -> Transaction | None:
    """Record the wallets service's decision: PENDING becomes SUCCESS or FAILED, once.

    Balances and the sender's allowance it reports are learned in the same transaction,
    so the pre-check's view of a sender (known balance and allowance, less pending
    debits) never counts a settled transfer twice.
    """
    repository = TransactionRepository(uow)
    transaction = (await repository.lock_transactions([outcome.transaction_id])).get(
        outcome.transaction_id
    )
    accounts = await repository.lock_accounts([outcome.sender_id, outcome.receiver_id])
    sender, receiver = accounts.get(outcome.sender_id), accounts.get(outcome.receiver_id)
    repository.learn(
        sender,
        version=outcome.sender_version,
        balance_paise=outcome.sender_balance_paise,
        allowance=outcome.sender_allowance,
    )
    if isinstance(outcome, TransferCompleted):
        repository.learn(
            receiver, version=outcome.receiver_version, balance_paise=outcome.receiver_balance_paise
        )
    if transaction is None:
        log.error("outcome for unknown transaction %s ignored", outcome.transaction_id)
        return None
    if transaction.status != "PENDING":
        return transaction  # an outcome repeated after a re-drive: decided already
    if isinstance(outcome, TransferCompleted):
        repository.decide(transaction, "SUCCESS", None)
    else:
        repository.decide(transaction, "FAILED", outcome.reason, outcome.limit)
    count_after_commit(
        uow, TRANSFERS.labels(status=transaction.status, reason=transaction.reason or "")
    )
    assert sender is not None and receiver is not None
    add_to_outbox(
        uow,
        OutboxMessage,
        TransactionCompleted(
            transaction_id=transaction.id,
            status="SUCCESS" if transaction.status == "SUCCESS" else "FAILED",
            reason=transaction.reason,
            amount_paise=transaction.amount_paise,
            note=transaction.note,
            sender=Party(user_id=sender.user_id, name=sender.name, email=sender.email),
            receiver=Party(user_id=receiver.user_id, name=receiver.name, email=receiver.email),
            limit=transaction.limit_name,
        ),
        key=transaction.sender_id,
        correlation_id=correlation_id,
    )
    return transaction
