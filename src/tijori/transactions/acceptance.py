"""Accepting a transfer: its payment token, checks, Idempotency-Keys, the sender's known
balance and limits, PENDING.

Single use of payment tokens: the token's id is stored with the transaction it
authorised (``transactions.payment_token_id``, unique), in the one insert of a batch
that stores its transactions anyway, rather than in a table of used tokens of its own,
which would cost a statement per batch and a purge. A token is bound to its
Idempotency-Key, so a request that replays the key (the same payment, whichever valid
token it carries) is answered with the transaction stored before and authorises
nothing new; a second transaction with a used token cannot be stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tijori.common.auth import PaymentAuthorisation, PaymentTokenError, Principal
from tijori.common.cache import Cache
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import ConflictError, NotFoundError, ProblemError, UnprocessableError
from tijori.common.events import TransactionInitiated
from tijori.common.metrics import PRECHECK_REFUSALS, TRANSFERS, count_after_commit
from tijori.common.money import format_paise, format_rupees
from tijori.common.outbox import add_to_outbox
from tijori.common.periods import INDIA, today
from tijori.common.phone import normalize_handle
from tijori.common.tracing import current_traceparent
from tijori.transactions.allowance import frozen_refusal, is_frozen, limit_passed, refusal
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.directory import Recipient, resolve_recipient
from tijori.transactions.models import IdempotencyKey, OutboxMessage, Transaction
from tijori.transactions.repository import TransactionRepository
from tijori.transactions.schemas import TransferRequest


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
    idempotency_key: str
    # the id of the payment token that authorised it, stored with the transaction
    payment_token_id: str
    fingerprint: str
    correlation_id: str | None
    # the request's trace, for the event that a batch stores after the request's turn
    traceparent: str | None


async def check_transfer(
    uow: UnitOfWork,
    *,
    cache: Cache,
    settings: TransactionsSettings,
    sender: Principal,
    request: TransferRequest,
    idempotency_key: str | None,
    payment: PaymentAuthorisation,
    correlation_id: str | None = None,
) -> TransferCandidate | Accepted:
    """The checks of a transfer request before it is decided: the amount's ceiling and
    the receiver's form, then its payment token (nothing is read before it passes),
    then the receiver and self-transfer.

    When the receiver or self-transfer check fails and the Idempotency-Key was used
    before, the stored key answers instead (the same request: its transaction; another
    request: a 409), as it does when the request is decided.
    """
    if request.amount > settings.max_transfer:
        raise UnprocessableError(
            f"one transfer moves at most {format_rupees(settings.max_transfer)}",
            code="invalid_amount",
        )
    handle = normalize_handle(request.receiver)
    grant = payment.grant(
        amount_paise=request.amount, receiver=handle, idempotency_key=idempotency_key
    )
    assert idempotency_key is not None  # the grant requires one
    fingerprint = request_hash(handle=handle, amount_paise=request.amount, note=request.note)
    try:
        recipient = await resolve_recipient(
            uow, cache, handle, ttl_seconds=settings.directory_cache_ttl_seconds
        )
        if recipient.user_id == sender.user_id:
            raise UnprocessableError("you cannot send money to yourself", code="self_transfer")
    except ProblemError:
        repository = TransactionRepository(uow)
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
        payment_token_id=grant.token_id,
        fingerprint=fingerprint,
        correlation_id=correlation_id,
        traceparent=current_traceparent(),
    )


async def accept_batch(
    uow: UnitOfWork, candidates: Sequence[TransferCandidate], *, timezone: str = INDIA
) -> list[Accepted | ProblemError]:
    """Decide checked transfers in order and stage each accepted one PENDING with its
    ``transaction.initiated``, in ``uow``'s transaction (the caller commits).

    For each, in order: a replay of its Idempotency-Key (stored, or used earlier in the
    batch), then whether the sender is known frozen, then the sender's known balance
    less what is pending, then the sender's known limits (transactions/allowance.py,
    months and days in ``timezone``) less what is pending, in both including what the
    batch accepted before it. The wallets service stays the authority: this only spares
    it hopeless transfers. What the batch needs is read in two queries, however many
    transfers it holds. A key (or payment token) taken meanwhile by another process
    raises ``IntegrityError`` when the rows are inserted: decide again, one at a time.
    """
    repository = TransactionRepository(uow)
    senders = await repository.sender_states({c.sender_id for c in candidates})
    stored_keys = await repository.idempotency_keys(
        {(c.sender_id, c.idempotency_key) for c in candidates}
    )
    now = today(utcnow(), timezone)
    results: list[Accepted | ProblemError] = []
    taken: dict[str, int] = {}  # paise this batch accepted, by sender
    counted: dict[str, int] = {}  # transfers this batch accepted, by sender
    keyed: dict[tuple[str, str], tuple[str, Accepted]] = {}  # keys this batch used
    accepted: list[tuple[TransferCandidate, Transaction]] = []
    for candidate in candidates:
        sender_id = candidate.sender_id
        key = (sender_id, candidate.idempotency_key)
        try:
            if key in keyed:
                fingerprint, first = keyed[key]
                _same_request(fingerprint, candidate.fingerprint)
                results.append(Accepted(first.transaction, replayed=True, names=first.names))
                continue
            if key in stored_keys:
                stored = stored_keys[key]
                results.append(await _replay(repository, stored, candidate.fingerprint))
                continue
            known = senders.get(sender_id)
            if known is None:
                raise NotFoundError("your wallet is not open yet", code="wallet_not_found")
            if is_frozen(known.allowance):  # wallets' order: the freeze, then the money
                count_after_commit(uow, PRECHECK_REFUSALS.labels(code="wallet_frozen", limit=""))
                raise frozen_refusal()
            available = known.balance_paise - known.pending_paise - taken.get(sender_id, 0)
            if available < candidate.amount_paise:
                count_after_commit(
                    uow, PRECHECK_REFUSALS.labels(code="insufficient_funds", limit="")
                )
                raise UnprocessableError(
                    f"{format_rupees(max(available, 0))} is available: too little for this "
                    "transfer",
                    code="insufficient_funds",
                    available=format_paise(max(available, 0)),
                )
            passed = limit_passed(
                known.allowance,
                candidate.amount_paise,
                pending_paise=known.pending_paise + taken.get(sender_id, 0),
                pending_count=known.pending_count + counted.get(sender_id, 0),
                today=now,
                tier_monthly_p2p_paise=known.tier_monthly_p2p_paise,
            )
            if passed is not None:
                count_after_commit(
                    uow, PRECHECK_REFUSALS.labels(code="limit_exceeded", limit=passed.limit)
                )
                raise refusal(passed)
        except ProblemError as refused:
            results.append(refused)
            continue
        transaction = _pending(candidate)
        taken[sender_id] = taken.get(sender_id, 0) + candidate.amount_paise
        counted[sender_id] = counted.get(sender_id, 0) + 1
        names = {sender_id: known.name, candidate.recipient.user_id: candidate.recipient.name}
        result = Accepted(transaction=transaction, replayed=False, names=names)
        keyed[key] = (candidate.fingerprint, result)
        accepted.append((candidate, transaction))
        results.append(result)
    if accepted:
        await _stage(uow, repository, accepted)
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
        limit_name=None,
        redrives=0,
        payment_token_id=candidate.payment_token_id,
        created_at=now,
        updated_at=now,
    )


async def _stage(
    uow: UnitOfWork,
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
    ]
    # after the transactions they refer to; a twin request elsewhere fails here
    await repository.insert_idempotency_keys(keys)
    for candidate, transaction in accepted:
        initiate(
            uow,
            transaction,
            correlation_id=candidate.correlation_id,
            traceparent=candidate.traceparent,
        )
    count_after_commit(uow, TRANSFERS.labels(status="ACCEPTED", reason=""), len(accepted))


async def replay_after_race(uow: UnitOfWork, candidate: TransferCandidate) -> Accepted:
    """The answer to a candidate whose rows could not be inserted alone: when another
    process stored its Idempotency-Key meanwhile, that transaction (or a 409); when
    not, its payment token had authorised another transaction: refused."""
    repository = TransactionRepository(uow)
    stored = await repository.get_idempotency_key(candidate.sender_id, candidate.idempotency_key)
    if stored is None:
        raise PaymentTokenError("this payment token was used already")
    return await _replay(repository, stored, candidate.fingerprint)


def initiate(
    uow: UnitOfWork,
    transaction: Transaction,
    *,
    correlation_id: str | None,
    traceparent: str | None = None,
) -> None:
    """Stage ``transaction.initiated`` for ``transaction``: the wallets service's cue."""
    add_to_outbox(
        uow,
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
