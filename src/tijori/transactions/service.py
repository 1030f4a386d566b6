"""Business rules of the transactions service: accept a transfer, settle it, re-drive it."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.auth import Principal
from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.db import utcnow
from tijori.common.errors import ConflictError, NotFoundError, ProblemError, UnprocessableError
from tijori.common.events import (
    Party,
    TransactionCompleted,
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    WalletCreated,
)
from tijori.common.metrics import TRANSFERS, count_after_commit
from tijori.common.money import format_paise
from tijori.common.outbox import add_to_outbox
from tijori.common.phone import InvalidPhoneError, looks_like_email, normalize_phone
from tijori.common.tracing import current_traceparent
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.models import Account, IdempotencyKey, OutboxMessage, Transaction
from tijori.transactions.repository import TransactionRepository
from tijori.transactions.schemas import PartyRead, TransactionRead, TransferRequest

log = logging.getLogger(__name__)


class Recipient(BaseModel):
    """Who can be paid at a phone or e-mail: what the directory cache holds."""

    user_id: str
    name: str
    email: str
    phone: str


def directory_key(handle: str) -> str:
    """Where the recipient reachable at ``handle`` is cached."""
    return f"tijori:directory:{handle}"


def normalize_handle(raw: str) -> str:
    """The canonical form of a receiver: a lower-case e-mail or an E.164 phone."""
    text = raw.strip()
    try:
        if looks_like_email(text):
            return validate_email(text, check_deliverability=False).normalized.lower()
        return normalize_phone(text)
    except (EmailNotValidError, InvalidPhoneError) as error:
        raise UnprocessableError(
            "the receiver must be a phone number or an e-mail address", code="invalid_receiver"
        ) from error


async def resolve_recipient(
    session: AsyncSession, cache: Cache, handle: str, *, ttl_seconds: int
) -> Recipient:
    """The recipient at ``handle``: from the Redis directory, else this service's table."""
    try:
        cached = await cache.get(directory_key(handle))
    except CacheUnavailableError:
        cached = None
    if cached is not None:
        return Recipient.model_validate_json(cached)
    repository = TransactionRepository(session)
    is_email = "@" in handle
    account = await repository.account_by_handle(
        email=handle if is_email else None, phone=None if is_email else handle
    )
    if account is None:
        raise NotFoundError("no Tijori wallet at this phone or e-mail", code="receiver_not_found")
    recipient = Recipient(
        user_id=account.user_id, name=account.name, email=account.email, phone=account.phone
    )
    await _cache_recipient(cache, recipient, ttl_seconds=ttl_seconds)
    return recipient


async def _cache_recipient(cache: Cache, recipient: Recipient, *, ttl_seconds: int) -> None:
    body = recipient.model_dump_json().encode()
    try:
        for handle in (recipient.email, recipient.phone):
            await cache.set(directory_key(handle), body, ttl_seconds=ttl_seconds)
    except CacheUnavailableError:
        log.warning("directory cache unavailable; %s not cached", recipient.user_id)


def request_hash(*, handle: str, amount_paise: int, note: str | None) -> str:
    """What identifies a transfer request, for comparing replays of an Idempotency-Key."""
    canonical = json.dumps(
        {"receiver": handle, "amount_paise": amount_paise, "note": note}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    """The transaction a request created, or the one its Idempotency-Key names, with the
    names of its two parties."""

    transaction: Transaction
    replayed: bool
    names: dict[str, str]


async def _replay(
    repository: TransactionRepository, stored: IdempotencyKey, fingerprint: str
) -> Accepted:
    """The answer of a request whose Idempotency-Key was stored before: its
    transaction, or a 409 if the key was used for another request."""
    _same_request(stored.request_hash, fingerprint)
    transaction = await repository.get(stored.transaction_id)
    assert transaction is not None
    names = await repository.names((transaction.sender_id, transaction.receiver_id))
    return Accepted(transaction=transaction, replayed=True, names=names)


@dataclass(frozen=True)
class TransferCandidate:
    """A transfer request that passed the checks needing neither the sender's balance nor
    the database: what :func:`accept_batch` decides."""

    sender_id: str
    recipient: Recipient
    amount_paise: int
    note: str | None
    idempotency_key: str | None
    fingerprint: str
    correlation_id: str | None
    # the request's trace, for the event that a batch stores after the request's turn
    traceparent: str | None


async def check_transfer(
    session: AsyncSession,
    *,
    cache: Cache,
    settings: TransactionsSettings,
    sender: Principal,
    request: TransferRequest,
    idempotency_key: str | None,
    correlation_id: str | None = None,
) -> TransferCandidate | Accepted:
    """The checks of a transfer request before it is decided: the amount's ceiling, the
    receiver, self-transfer.

    When the receiver or self-transfer check fails and the Idempotency-Key was used
    before, the stored key answers instead (the same request: its transaction; another
    request: a 409), as it does when the request is decided.
    """
    if request.amount > settings.max_transfer:
        raise UnprocessableError(
            f"one transfer moves at most ₹{format_paise(settings.max_transfer)}",
            code="invalid_amount",
        )
    handle = normalize_handle(request.receiver)
    fingerprint = request_hash(handle=handle, amount_paise=request.amount, note=request.note)
    try:
        recipient = await resolve_recipient(
            session, cache, handle, ttl_seconds=settings.directory_cache_ttl_seconds
        )
        if recipient.user_id == sender.user_id:
            raise UnprocessableError("you cannot send money to yourself", code="self_transfer")
    except ProblemError:
        if idempotency_key is not None:
            repository = TransactionRepository(session)
            stored = await repository.get_idempotency_key(sender.user_id, idempotency_key)
            if stored is not None:
                return await _replay(repository, stored, fingerprint)
        raise
    return TransferCandidate(
        sender_id=sender.user_id,
        recipient=recipient,
        amount_paise=request.amount,
        note=request.note,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        correlation_id=correlation_id,
        traceparent=current_traceparent(),
    )


async def accept_batch(
    session: AsyncSession, candidates: Sequence[TransferCandidate]
) -> list[Accepted | ProblemError]:
    """Decide checked transfers in order and stage each accepted one PENDING with its
    ``transaction.initiated``, in ``session``'s transaction (the caller commits).

    For each, in order: a replay of its Idempotency-Key (stored, or used earlier in the
    batch), then the sender's known balance less what is pending, including what the
    batch accepted before it. The wallets service stays the authority: this only
    spares it hopeless transfers. What the batch needs is read in two queries, however
    many transfers it holds. A key taken meanwhile by another process raises
    ``IntegrityError`` when the keys are inserted: decide again, one at a time.
    """
    repository = TransactionRepository(session)
    senders = await repository.sender_states({c.sender_id for c in candidates})
    stored_keys = await repository.idempotency_keys(
        {(c.sender_id, c.idempotency_key) for c in candidates if c.idempotency_key is not None}
    )
    results: list[Accepted | ProblemError] = []
    taken: dict[str, int] = {}  # paise this batch accepted, by sender
    keyed: dict[tuple[str, str], tuple[str, Accepted]] = {}  # keys this batch used
    accepted: list[tuple[TransferCandidate, Transaction]] = []
    for candidate in candidates:
        sender_id = candidate.sender_id
        key = (sender_id, candidate.idempotency_key) if candidate.idempotency_key else None
        try:
            if key is not None and key in keyed:
                fingerprint, first = keyed[key]
                _same_request(fingerprint, candidate.fingerprint)
                results.append(Accepted(first.transaction, replayed=True, names=first.names))
                continue
            if key is not None and key in stored_keys:
                stored = stored_keys[key]
                results.append(await _replay(repository, stored, candidate.fingerprint))
                continue
            known = senders.get(sender_id)
            if known is None:
                raise NotFoundError("your wallet is not open yet", code="wallet_not_found")
            available = known.balance_paise - known.pending_paise - taken.get(sender_id, 0)
            if available < candidate.amount_paise:
                raise UnprocessableError(
                    f"₹{format_paise(max(available, 0))} is available: too little for this "
                    "transfer",
                    code="insufficient_funds",
                )
        except ProblemError as refusal:
            results.append(refusal)
            continue
        transaction = _pending(candidate)
        taken[sender_id] = taken.get(sender_id, 0) + candidate.amount_paise
        names = {sender_id: known.name, candidate.recipient.user_id: candidate.recipient.name}
        result = Accepted(transaction=transaction, replayed=False, names=names)
        if key is not None:
            keyed[key] = (candidate.fingerprint, result)
        accepted.append((candidate, transaction))
        results.append(result)
    if accepted:
        await _stage(session, repository, accepted)
    return results


def _same_request(stored_hash: str, fingerprint: str) -> None:
    if stored_hash != fingerprint:
        raise ConflictError(
            "this Idempotency-Key was used for a different request", code="idempotency_key_reused"
        )


def _pending(candidate: TransferCandidate) -> Transaction:
    now = utcnow()
    return Transaction(
        id=str(uuid.uuid4()),
        sender_id=candidate.sender_id,
        receiver_id=candidate.recipient.user_id,
        amount_paise=candidate.amount_paise,
        currency="INR",
        note=candidate.note,
        status="PENDING",
        reason=None,
        redrives=0,
        created_at=now,
        updated_at=now,
    )


async def _stage(
    session: AsyncSession,
    repository: TransactionRepository,
    accepted: Sequence[tuple[TransferCandidate, Transaction]],
) -> None:
    await repository.insert_transactions([transaction for _, transaction in accepted])
    keys = [
        {
            "user_id": candidate.sender_id,
            "key": candidate.idempotency_key,
            "request_hash": candidate.fingerprint,
            "transaction_id": transaction.id,
            "created_at": transaction.created_at,
        }
        for candidate, transaction in accepted
        if candidate.idempotency_key is not None
    ]
    if keys:  # after the transactions they refer to
        await repository.insert_idempotency_keys(keys)  # a twin request elsewhere fails here
    for candidate, transaction in accepted:
        _initiate(
            session,
            transaction,
            correlation_id=candidate.correlation_id,
            traceparent=candidate.traceparent,
        )
    count_after_commit(session, TRANSFERS.labels(status="ACCEPTED", reason=""), len(accepted))


async def replay_after_race(session: AsyncSession, candidate: TransferCandidate) -> Accepted:
    """The answer to a candidate whose Idempotency-Key another process stored while it
    was being decided (inserting it failed): that transaction, or a 409."""
    repository = TransactionRepository(session)
    key = candidate.idempotency_key
    stored = await repository.get_idempotency_key(candidate.sender_id, key) if key else None
    if stored is None:
        raise LookupError("the key whose insert failed is not there")
    return await _replay(repository, stored, candidate.fingerprint)


def _initiate(
    session: AsyncSession,
    transaction: Transaction,
    *,
    correlation_id: str | None,
    traceparent: str | None = None,
) -> None:
    add_to_outbox(
        session,
        OutboxMessage,
        TransactionInitiated(
            transaction_id=transaction.id,
            sender_id=transaction.sender_id,
            receiver_id=transaction.receiver_id,
            amount_paise=transaction.amount_paise,
        ),
        key=transaction.sender_id,
        correlation_id=correlation_id,
        traceparent=traceparent,
    )


async def redrive_stale(session: AsyncSession, *, pending_for: timedelta, limit: int = 200) -> int:
    """Send ``transaction.initiated`` again for transactions PENDING longer than ``pending_for``."""
    now = utcnow()
    stale = await TransactionRepository(session).stale_pending(
        older_than=now - pending_for, limit=limit
    )
    for transaction in stale:
        transaction.redrives += 1
        transaction.updated_at = now
        _initiate(session, transaction, correlation_id=f"redrive-{transaction.redrives}")
        log.warning(
            "re-driving transaction %s, PENDING since %s", transaction.id, transaction.created_at
        )
    return len(stale)


async def remember_wallet(
    session: AsyncSession, cache: Cache, wallet: WalletCreated, *, ttl_seconds: int
) -> None:
    """Learn of a new wallet: a recipient in the directory, with its opening balance."""
    repository = TransactionRepository(session)
    account = (await repository.lock_accounts([wallet.user_id])).get(wallet.user_id)
    if account is None:
        repository.add(
            Account(
                user_id=wallet.user_id,
                wallet_id=wallet.wallet_id,
                name=wallet.name,
                email=wallet.email,
                phone=wallet.phone,
                balance_paise=wallet.balance_paise,
                version=wallet.version,
            )
        )
    else:
        repository.learn_balance(
            account, balance_paise=wallet.balance_paise, version=wallet.version
        )
    recipient = Recipient(
        user_id=wallet.user_id, name=wallet.name, email=wallet.email, phone=wallet.phone
    )
    await _cache_recipient(cache, recipient, ttl_seconds=ttl_seconds)


async def settle(
    session: AsyncSession,
    *,
    outcome: TransferCompleted | TransferRejected,
    correlation_id: str | None = None,
) -> Transaction | None:
    """Record the wallets service's decision: PENDING becomes SUCCESS or FAILED, once.

    Balances it reports are learned in the same transaction, so the pre-check's view of a
    sender (known balance less pending debits) never counts a settled transfer twice.
    """
    repository = TransactionRepository(session)
    transaction = (await repository.lock_transactions([outcome.transaction_id])).get(
        outcome.transaction_id
    )
    accounts = await repository.lock_accounts([outcome.sender_id, outcome.receiver_id])
    sender, receiver = accounts.get(outcome.sender_id), accounts.get(outcome.receiver_id)
    repository.learn_balance(
        sender, balance_paise=outcome.sender_balance_paise, version=outcome.sender_version
    )
    if isinstance(outcome, TransferCompleted):
        repository.learn_balance(
            receiver, balance_paise=outcome.receiver_balance_paise, version=outcome.receiver_version
        )
    if transaction is None:
        log.error("outcome for unknown transaction %s ignored", outcome.transaction_id)
        return None
    if transaction.status != "PENDING":
        return transaction  # an outcome repeated after a re-drive: decided already
    if isinstance(outcome, TransferCompleted):
        repository.decide(transaction, "SUCCESS", None)
    else:
        repository.decide(transaction, "FAILED", outcome.reason)
    count_after_commit(
        session, TRANSFERS.labels(status=transaction.status, reason=transaction.reason or "")
    )
    assert sender is not None and receiver is not None
    add_to_outbox(
        session,
        OutboxMessage,
        TransactionCompleted(
            transaction_id=transaction.id,
            status="SUCCESS" if transaction.status == "SUCCESS" else "FAILED",
            reason=transaction.reason,
            amount_paise=transaction.amount_paise,
            note=transaction.note,
            sender=Party(user_id=sender.user_id, name=sender.name, email=sender.email),
            receiver=Party(user_id=receiver.user_id, name=receiver.name, email=receiver.email),
        ),
        key=transaction.sender_id,
        correlation_id=correlation_id,
    )
    return transaction


def present(transaction: Transaction, *, viewer: str, names: Mapping[str, str]) -> TransactionRead:
    """A transaction as ``viewer`` sees it; ``names`` are the parties' names by user id."""

    def party(user_id: str) -> PartyRead:
        return PartyRead(id=user_id, name=names.get(user_id, ""))

    return TransactionRead(
        id=transaction.id,
        sender=party(transaction.sender_id),
        receiver=party(transaction.receiver_id),
        amount=transaction.amount_paise,
        currency="INR",
        note=transaction.note,
        status=transaction.status,
        reason=transaction.reason,
        direction="RECEIVED" if viewer == transaction.receiver_id else "SENT",
        created_at=transaction.created_at,
        updated_at=transaction.updated_at,
    )
