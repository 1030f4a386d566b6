"""Business rules of the wallets service."""

from __future__ import annotations

import functools
import logging
from typing import Any

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.events import (
    EVENT_TYPES,
    Envelope,
    Payload,
    PromotionCredited,
    RejectionReason,
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    UserEmailVerified,
    UserKycUpdated,
    WalletCreated,
    WalletLimitsChanged,
    WalletTierLimits,
)
from tijori.common.metrics import LEDGER_TRANSFERS, LIMIT_REFUSALS, count_after_commit
from tijori.common.outbox import add_to_outbox
from tijori.common.periods import today
from tijori.wallets.config import WalletsSettings
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.limits import allowance_of, monthly_p2p_by_tier, transfer_limit_passed
from tijori.wallets.models import PROMOTIONS_WALLET_ID, OutboxMessage, Transfer, Wallet
from tijori.wallets.repository import WalletRepository

log = logging.getLogger(__name__)


def promotion_reference(user_id: str) -> str:
    """The ledger reference of the sign-up promotion of ``user_id``."""
    return f"promo:{user_id}"


async def open_wallet(
    uow: UnitOfWork,
    *,
    user: UserCreated | UserEmailVerified,
    promo_paise: int,
    correlation_id: str | None = None,
) -> Wallet:
    """Open the wallet of a new user and stage ``wallet.created``; credit the promotion
    at once unless the user must verify their e-mail first (then it waits for
    ``user.email_verified``: :func:`credit_promotion`).

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
        kyc_tier="MINIMUM",
        p2p_sent_paise=0,
        day_paid_paise=0,
        day_payments=0,
    )
    await repository.open(wallet)
    if promo_paise > 0 and not (isinstance(user, UserCreated) and user.verification_required):
        await _post_promotion(repository, wallet, promo_paise)
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


# limits of the receiving wallet: a refusal over them is counted with its tier
_RECEIVER_LIMITS = frozenset({"receiver_balance_cap", "kyc_upgrade_deadline"})


async def credit_promotion(
    uow: UnitOfWork,
    *,
    verified: UserEmailVerified,
    promo_paise: int,
    correlation_id: str | None = None,
) -> Wallet:
    """Credit the sign-up promotion of a user who verified their e-mail, once, and stage
    ``wallet.promotion_credited`` (transactions learns the balance from it).

    The wallet is locked first; one whose promotion is in the ledger already (credited
    at opening, or by this event delivered again) gets nothing more, and when
    ``user.created`` has not been applied yet (another topic) the wallet is opened here:
    the later ``user.created`` then finds it open.
    """
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(verified.user_id)).get(verified.user_id)
    if wallet is None:
        wallet = await open_wallet(uow, user=verified, promo_paise=0, correlation_id=correlation_id)
    reference = promotion_reference(verified.user_id)
    if promo_paise <= 0 or await repository.has_entry(wallet.id, reference):
        log.info("no promotion to credit to user %s", verified.user_id)
        return wallet
    await _post_promotion(repository, wallet, promo_paise)
    emit(
        uow,
        PromotionCredited(
            wallet_id=wallet.id,
            user_id=verified.user_id,
            name=verified.name,
            email=verified.email,
            phone=verified.phone,
            amount_paise=promo_paise,
            balance_paise=wallet.balance_paise,
            version=wallet.version,
        ),
        key=verified.user_id,
        correlation_id=correlation_id,
    )
    log.info("promotion credited to user %s", verified.user_id)
    return wallet


async def _post_promotion(repository: WalletRepository, wallet: Wallet, paise: int) -> None:
    """Move ``paise`` from the system promotions account to ``wallet`` (locked after
    it, as every system account is locked after the user wallets)."""
    promotions = (await repository.lock(PROMOTIONS_WALLET_ID))[PROMOTIONS_WALLET_ID]
    repository.post(
        LedgerPair.move(
            source=promotions,
            destination=wallet,
            paise=paise,
            reference=promotion_reference(wallet.user_id or ""),
            kind="PROMOTION",
        )
    )


@functools.cache
def default_settings() -> WalletsSettings:
    """The settings of the environment, for callers that were given none (read once)."""
    return WalletsSettings()


async def apply_transfer(
    uow: UnitOfWork,
    *,
    transfer: TransactionInitiated,
    settings: WalletsSettings | None = None,
    correlation_id: str | None = None,
) -> Payload:
    """Apply one transaction atomically, or refuse it; stage the outcome event.

    Both wallets are locked in user id order before anything is read for the decision,
    limits included (wallets/limits.py): the sender's own daily caps and what it paid
    today, its amount sent this month, and the receiver's upgrade deadline and balance
    cap are read from the locked rows, and a batch's transfers are
    decided one after another on them, so racing transfers cannot pass a limit together.
    A transaction already decided (the same one sent again) repeats its recorded outcome
    and moves nothing.
    """
    settings = settings or default_settings()
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
    limit: str | None = None
    now = today(utcnow(), settings.limits_timezone)
    if sender is None or receiver is None or sender.id == receiver.id:
        reason = "wallet_not_found"
    elif sender.status == "FROZEN":
        # a frozen wallet pays nothing; one frozen is still paid (wallets/freezes.py)
        reason = "wallet_frozen"
    elif sender.balance_paise - sender.held_paise < transfer.amount_paise:
        reason = "insufficient_funds"
    elif (
        limit := transfer_limit_passed(
            sender, receiver, transfer.amount_paise, settings=settings, today=now
        )
    ) is not None:
        reason = "limit_exceeded"
        tier = receiver.kyc_tier if limit in _RECEIVER_LIMITS else sender.kyc_tier
        count_after_commit(uow, LIMIT_REFUSALS.labels(limit=limit, tier=tier, kind="TRANSFER"))

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
        repository.post(pair, sent_in_month=now.month, paid_on_day=now.day)
        outcome = TransferCompleted(
            transaction_id=transfer.transaction_id,
            sender_id=transfer.sender_id,
            receiver_id=transfer.receiver_id,
            amount_paise=transfer.amount_paise,
            sender_balance_paise=sender.balance_paise,
            sender_version=sender.version,
            receiver_balance_paise=receiver.balance_paise,
            receiver_version=receiver.version,
            sender_allowance=allowance_of(sender, settings),
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
            limit=limit,
            sender_allowance=allowance_of(sender, settings) if sender is not None else None,
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


async def apply_kyc(
    uow: UnitOfWork,
    *,
    update: UserKycUpdated,
    settings: WalletsSettings | None = None,
    correlation_id: str | None = None,
) -> Wallet | None:
    """Give the wallet of a user verified full-KYC the full-KYC limits and stage
    ``wallet.limits_changed`` (a rejection changes nothing: the wallet stays
    minimum-detail)."""
    if update.kyc != "FULL":
        return None
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(update.user_id)).get(update.user_id)
    if wallet is None:
        log.error("user %s is full-KYC, but has no wallet yet; nothing changed", update.user_id)
        return None
    if wallet.kyc_tier != "FULL":
        repository.set_tier(wallet, "FULL")
        announce_limits(uow, wallet, settings or default_settings(), correlation_id)
        log.info("wallet %s is full-KYC now", wallet.id)
    return wallet


def announce_limits(
    uow: UnitOfWork, wallet: Wallet, settings: WalletsSettings, correlation_id: str | None
) -> None:
    """Stage ``wallet.limits_changed`` with a locked wallet's allowance and version now:
    how transactions' pre-check learns a change of limits no transfer outcome tells it
    (a tier, the user's own caps, a withdrawal's hold, a freeze), so it never goes on
    refusing a payment wallets would accept (docs/limits.md)."""
    if wallet.user_id is None:
        return
    emit(
        uow,
        WalletLimitsChanged(
            wallet_id=wallet.id,
            user_id=wallet.user_id,
            version=wallet.version,
            allowance=allowance_of(wallet, settings),
        ),
        key=wallet.user_id,
        correlation_id=correlation_id,
    )


async def announce_tier_limits(
    uow: UnitOfWork, settings: WalletsSettings
) -> WalletTierLimits | None:
    """Stage ``wallet.tier_limits`` with each tier's monthly limit on money sent to
    people, as ``settings`` has them, if they differ from the ones announced last (the
    caller commits): how an operator's change of the limits, read at start-up, reaches
    transactions' pre-check for every wallet at once, not with each wallet's next event.
    Under the lock of what was announced last, so wallets processes starting together
    announce in turn: the second finds its limits announced already (docs/limits.md)."""
    repository = WalletRepository(uow)
    last = await repository.lock_tier_limits_announced()
    limits = monthly_p2p_by_tier(settings)
    before = (
        None
        if last.announcement is None
        else WalletTierLimits.model_validate_json(last.announcement)
    )
    if before is not None and before.monthly_p2p_paise == limits:
        return None
    announced = WalletTierLimits(version=last.version + 1, monthly_p2p_paise=limits)
    repository.announced_tier_limits(
        last, version=announced.version, announcement=announced.model_dump_json()
    )
    # ordered by their version, not by a partition: any key will do
    emit(uow, announced, key=str(announced.version), correlation_id=None)
    log.info("tier limits announced (version %d): %s", announced.version, limits)
    return announced


def emit(
    uow: UnitOfWork, payload: Payload, *, key: str, correlation_id: str | None
) -> Envelope[Any]:
    """Stage ``payload`` in the wallets outbox, keyed (partitioned) by ``key``."""
    return add_to_outbox(uow, OutboxMessage, payload, key=key, correlation_id=correlation_id)
