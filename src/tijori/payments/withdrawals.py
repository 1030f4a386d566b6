"""Withdrawing to a bank: a hold in wallets, a payout at the gateway, then post or void.

The payout is requested with the withdrawal's id as its idempotency key, so asking again
after a timeout, a crash or a gateway outage makes one payout at most. Every path that
learns a payout's state (its webhooks, its answer, asking the gateway) goes through
:func:`apply_payout`, which moves a withdrawal only forward and tells wallets once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from tijori.common.auth import PaymentAuthorisation, PaymentTokenError, Principal
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import ConflictError, UnprocessableError, WalletFrozenError
from tijori.common.events import (
    HoldUpdated,
    Party,
    WithdrawalCompleted,
    WithdrawalRequested,
    WithdrawalSettled,
)
from tijori.common.metrics import WITHDRAWALS, count_after_commit
from tijori.common.money import format_paise, format_rupees
from tijori.common.outbox import add_to_outbox
from tijori.payments.desk import PaymentsDesk
from tijori.payments.models import OutboxMessage, Withdrawal
from tijori.payments.razorpay import (
    BankAccount,
    GatewayRefusedError,
    GatewayUnavailableError,
    Payout,
)
from tijori.payments.repository import PaymentsRepository
from tijori.payments.schemas import WithdrawalRequest

log = logging.getLogger(__name__)

# a payout's status at the gateway, as a withdrawal's (Razorpay: queued, pending,
# processing, then processed, cancelled, rejected or failed; processed may be reversed)
PAYOUT_STATUSES = {
    "queued": "PROCESSING",
    "pending": "PROCESSING",
    "processing": "PROCESSING",
    "processed": "PROCESSED",
    "cancelled": "FAILED",
    "rejected": "FAILED",
    "failed": "FAILED",
    "reversed": "REVERSED",
}
# how far each hold state is along, as payments has applied them
HOLD_RANKS = {None: 0, "HELD": 1, "REFUSED": 2, "POSTED": 2, "VOIDED": 2, "RETURNED": 3}
MAX_RETRY_SECONDS = 300.0


def request_hash(body: WithdrawalRequest) -> str:
    """What identifies a withdrawal request, for comparing replays of an Idempotency-Key."""
    canonical = json.dumps(
        {
            "amount_paise": body.amount,
            "account_number": body.account_number,
            "ifsc": body.ifsc,
            "account_name": body.account_name,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Requested:
    """The withdrawal a request made, or the one its Idempotency-Key names."""

    withdrawal: Withdrawal
    replayed: bool


def _counted(uow: UnitOfWork, status: str, reason: str | None = None) -> None:
    count_after_commit(uow, WITHDRAWALS.labels(status=status, reason=reason or ""))


async def _replay(uow: UnitOfWork, user_id: str, key: str, fingerprint: str) -> Requested | None:
    stored = await PaymentsRepository(uow).withdrawal_of_key(user_id, key)
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise ConflictError(
            "this Idempotency-Key was used for another withdrawal", code="idempotency_key_reused"
        )
    return Requested(withdrawal=stored, replayed=True)


async def request_withdrawal(
    desk: PaymentsDesk,
    *,
    principal: Principal,
    body: WithdrawalRequest,
    idempotency_key: str | None,
    payment: PaymentAuthorisation,
    authorization: str | None = None,
) -> Requested:
    """Accept a withdrawal: REQUESTED, and ``withdrawal.requested`` for wallets to hold
    the amount, unless wallets says at once that the wallet is not full-KYC or that too
    little is available (asked with the caller's ``authorization``; payments/balances.py).
    The same key and body replay it; a new one needs a payment token bound to this amount
    and key (and to no receiver), used once (its id is a unique column of the withdrawal,
    as transfers keep theirs)."""
    settings = desk.settings
    fingerprint = request_hash(body)
    if idempotency_key is not None:
        async with desk.units() as uow:
            replayed = await _replay(uow, principal.user_id, idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
    if body.amount < settings.min_withdrawal:
        raise UnprocessableError(
            f"a withdrawal is at least {format_rupees(settings.min_withdrawal)}",
            code="invalid_amount",
        )
    if body.amount > settings.max_withdrawal:
        raise UnprocessableError(
            f"a withdrawal is at most {format_rupees(settings.max_withdrawal)}",
            code="limit_exceeded",
            limit="withdrawal_max",
        )
    grant = payment.grant(amount_paise=body.amount, receiver=None, idempotency_key=idempotency_key)
    assert idempotency_key is not None  # a grant is bound to one
    known = await desk.wallets.read(authorization)
    if known is not None and known.status == "FROZEN":
        # wallets' hold refuses it too (wallet_frozen): this only says so at once
        raise WalletFrozenError(
            "your wallet is frozen: unfreeze it with your password and PIN to withdraw",
            code="wallet_frozen",
        )
    if known is not None and known.kyc_tier is not None and known.kyc_tier != "FULL":
        # wallets' hold refuses it too (kyc_required): this only says so at once
        raise UnprocessableError(
            "withdrawing to a bank needs a full-KYC wallet: verify your PAN first "
            "(POST /api/users/me/kyc)",
            code="kyc_required",
        )
    if known is not None and known.available < body.amount:
        available = known.available
        raise UnprocessableError(
            f"{format_rupees(max(available, 0))} is available: too little for this withdrawal",
            code="insufficient_funds",
            available=format_paise(max(available, 0)),
        )
    now = utcnow()
    withdrawal = Withdrawal(
        user_id=principal.user_id,
        amount_paise=body.amount,
        status="REQUESTED",
        account_name=body.account_name,
        account_number=body.account_number,
        ifsc=body.ifsc,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        payment_token_id=grant.token_id,
        attempts=0,
        check_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        async with desk.units() as uow:
            PaymentsRepository(uow).add_withdrawal(withdrawal)
            await uow.session.flush()
            add_to_outbox(
                uow,
                OutboxMessage,
                WithdrawalRequested(
                    withdrawal_id=withdrawal.id,
                    user_id=principal.user_id,
                    amount_paise=body.amount,
                ),
                key=principal.user_id,
            )
            _counted(uow, "REQUESTED")
            await uow.commit()
    except IntegrityError:
        # the same key at the same moment, or the token used already
        async with desk.units() as uow:
            replayed = await _replay(uow, principal.user_id, idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
        raise PaymentTokenError("this payment token was used already") from None
    log.info("withdrawal %s requested: %d paise", withdrawal.id, body.amount)
    return Requested(withdrawal=withdrawal, replayed=False)


def _settled(uow: UnitOfWork, withdrawal: Withdrawal, outcome: str) -> None:
    add_to_outbox(
        uow,
        OutboxMessage,
        WithdrawalSettled(
            withdrawal_id=withdrawal.id,
            user_id=withdrawal.user_id,
            amount_paise=withdrawal.amount_paise,
            outcome=outcome,
            reason=withdrawal.reason,
        ),
        key=withdrawal.user_id,
    )


def apply_payout(uow: UnitOfWork, withdrawal: Withdrawal, payout: Payout) -> str:
    """Move a locked withdrawal to what its payout at the gateway is now; when that is
    final, tell wallets to post or void the hold. What happened, for logs and metrics."""
    if payout.amount_paise != withdrawal.amount_paise:
        log.error("payout %s is not withdrawal %s's amount: ignored", payout.id, withdrawal.id)
        return "amount_mismatch"
    status = PAYOUT_STATUSES.get(payout.status)
    if status is None:
        return "ignored"
    repository = PaymentsRepository(uow)
    values: dict[str, object] = {"payout_id": payout.id}
    if status == "FAILED":
        values["reason"] = (payout.failure_reason or f"payout_{payout.status}")[:40]
    if not repository.advance_withdrawal(withdrawal, status, **values):
        return "duplicate"
    _counted(uow, status, withdrawal.reason if status == "FAILED" else None)
    if status != "PROCESSING":
        _settled(uow, withdrawal, status)
    return status.lower()


async def _complete(uow: UnitOfWork, withdrawal: Withdrawal, status: str) -> None:
    customer = await PaymentsRepository(uow).customer(withdrawal.user_id)
    if customer is None:
        log.warning("no e-mail for withdrawal %s: its user is not known yet", withdrawal.id)
        return
    add_to_outbox(
        uow,
        OutboxMessage,
        WithdrawalCompleted(
            withdrawal_id=withdrawal.id,
            status=status,
            reason=withdrawal.reason,
            amount_paise=withdrawal.amount_paise,
            account_last4=withdrawal.account_number[-4:],
            user=Party(user_id=customer.user_id, name=customer.name, email=customer.email),
            limit=withdrawal.limit_name,
        ),
        key=withdrawal.user_id,
    )


async def on_hold_updated(uow: UnitOfWork, update: HoldUpdated, desk: PaymentsDesk) -> None:
    """What wallets did with the hold: HELD (request the payout now), REFUSED (FAILED),
    POSTED, VOIDED or RETURNED (the user's e-mail). Each state is applied once."""
    repository = PaymentsRepository(uow)
    withdrawal = await repository.withdrawal(update.hold_id, lock=True)
    if withdrawal is None or HOLD_RANKS[update.status] <= HOLD_RANKS[withdrawal.hold_status]:
        return
    repository.schedule(withdrawal, withdrawal.check_at, hold_status=update.status)
    if update.status == "HELD":
        if repository.advance_withdrawal(withdrawal, "HELD"):
            _counted(uow, "HELD")
            repository.schedule(withdrawal, utcnow())
            uow.after_commit(desk.wake_checks, once=True)
    elif update.status == "REFUSED":
        if repository.advance_withdrawal(
            withdrawal, "FAILED", reason=update.reason, limit_name=update.limit
        ):
            _counted(uow, "FAILED", update.reason)
        await _complete(uow, withdrawal, "FAILED")
    elif update.status == "POSTED":
        await _complete(uow, withdrawal, "PROCESSED")
    elif update.status == "VOIDED":
        if repository.advance_withdrawal(withdrawal, "FAILED", reason=update.reason):
            # voided by wallets itself (the hold expired): the payout is not asked again
            _counted(uow, "FAILED", update.reason)
        await _complete(uow, withdrawal, "FAILED")
    else:  # RETURNED
        await _complete(uow, withdrawal, "REVERSED")


async def check(desk: PaymentsDesk, candidate: Withdrawal) -> None:
    """Request a held withdrawal's payout (again, with the same key), or ask the gateway
    about one in progress that no webhook settled; apply what it says."""
    settings = desk.settings
    now = utcnow()
    payout: Payout | None = None
    refused: str | None = None
    try:
        if candidate.status == "HELD":
            payout = await desk.gateway.create_payout(
                idempotency_key=candidate.id,
                amount_paise=candidate.amount_paise,
                account=BankAccount(
                    name=candidate.account_name,
                    ifsc=candidate.ifsc,
                    account_number=candidate.account_number,
                ),
                reference_id=candidate.id,
                narration="Tijori withdrawal",
                notes={"withdrawal_id": candidate.id, "user_id": candidate.user_id},
            )
        elif candidate.payout_id is not None:
            payout = await desk.gateway.fetch_payout(candidate.payout_id)
        else:
            found = await desk.gateway.payouts_by_reference(candidate.id)
            payout = found[0] if found else None
    except GatewayRefusedError as error:
        log.error("the gateway refused withdrawal %s's payout: %s", candidate.id, error)
        refused = "payout_refused" if candidate.status == "HELD" else None
    except GatewayUnavailableError as error:
        log.warning("the gateway did not answer about withdrawal %s: %s", candidate.id, error)
    async with desk.units() as uow:
        repository = PaymentsRepository(uow)
        withdrawal = await repository.withdrawal(candidate.id, lock=True)
        if withdrawal is None:
            return
        if payout is not None:
            apply_payout(uow, withdrawal, payout)
            repository.schedule(
                withdrawal, now + timedelta(seconds=settings.payout_check_after_seconds)
            )
        elif withdrawal.status == "HELD" and (
            refused is not None
            or now - withdrawal.created_at > timedelta(seconds=settings.payout_give_up_seconds)
        ):
            reason = refused or "gateway_unavailable"
            if repository.advance_withdrawal(withdrawal, "FAILED", reason=reason):
                _counted(uow, "FAILED", reason)
                _settled(uow, withdrawal, "FAILED")
        else:
            # not answered: the same request again, later and later
            wait = min(settings.payout_retry_seconds * 2**withdrawal.attempts, MAX_RETRY_SECONDS)
            if withdrawal.status == "PROCESSING":
                wait = settings.payout_check_after_seconds
            repository.schedule(
                withdrawal, now + timedelta(seconds=wait), attempts=withdrawal.attempts + 1
            )
        await uow.commit()
