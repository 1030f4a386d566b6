"""Holds for withdrawals (two-phase transfers): placed, then posted or voided exactly once.

A hold is the pending debit of a withdrawal: placing it lowers the available balance at
once; the payout's outcome posts it (the money leaves for the gateway's account) or voids
it (the money is available again). A hold voided can never be posted and one posted can
never be voided; a processed payout that comes back reversed is credited again with its
own pair of entries. Each step repeats, without effect, the current state when the same
request arrives again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.events import HoldStatus, HoldUpdated, WithdrawalRequested, WithdrawalSettled
from tijori.common.metrics import (
    HOLDS,
    HOLDS_OLDEST_AGE,
    HOLDS_OUTSTANDING,
    LIMIT_REFUSALS,
    count_after_commit,
)
from tijori.common.periods import day_key
from tijori.wallets.config import WalletsSettings
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.limits import own_limit_passed
from tijori.wallets.models import GATEWAY_WALLET_ID, Hold, Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.service import announce_limits, default_settings, emit

log = logging.getLogger(__name__)


def _report(
    uow: UnitOfWork, hold: Hold, wallet: Wallet | None, *, correlation_id: str | None
) -> HoldUpdated:
    """Stage ``hold.updated`` with the hold's state and its wallet's balances now."""
    update = HoldUpdated(
        hold_id=hold.id,
        user_id=hold.user_id,
        amount_paise=hold.amount_paise,
        status=hold.status,
        reason=hold.reason,
        limit=hold.limit_name,
        balance_paise=wallet.balance_paise if wallet is not None else None,
        held_paise=wallet.held_paise if wallet is not None else None,
        version=wallet.version if wallet is not None else None,
    )
    emit(uow, update, key=hold.user_id, correlation_id=correlation_id)
    return update


def _counted(uow: UnitOfWork, status: HoldStatus, reason: str | None = None) -> None:
    count_after_commit(uow, HOLDS.labels(status=status, reason=reason or ""))


async def place_hold(
    uow: UnitOfWork,
    *,
    request: WithdrawalRequested,
    hold_for: timedelta,
    settings: WalletsSettings | None = None,
    correlation_id: str | None = None,
) -> HoldUpdated:
    """Hold a withdrawal's amount on its wallet if the available balance (balance less
    holds) covers it, the wallet is an active full-KYC one and the user's own daily caps
    allow one more payment of it; otherwise record the refusal (``kyc_required`` for a
    minimum-detail wallet; ``limit_exceeded`` with the cap's name, ``daily_amount`` or
    ``daily_count``, as a transfer's). A withdrawal is a payment of the user's own: a
    placed hold counts in the day's caps, and ``wallet.limits_changed`` tells
    transactions' pre-check so (docs/limits.md)."""
    settings = settings or default_settings()
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(request.user_id)).get(request.user_id)
    existing = await repository.lock_hold(request.withdrawal_id)
    if existing is not None:
        log.info("hold %s is already %s; repeating it", existing.id, existing.status)
        return _report(uow, existing, wallet, correlation_id=correlation_id)
    reason: str | None = None
    if wallet is None:
        reason = "wallet_not_found"
    elif wallet.status == "FROZEN":
        reason = "wallet_frozen"
    elif wallet.kyc_tier != "FULL":
        # a minimum-detail wallet cannot withdraw to a bank (PRODUCT.md; docs/limits.md)
        reason = "kyc_required"
    elif wallet.balance_paise - wallet.held_paise < request.amount_paise:
        reason = "insufficient_funds"
    now = utcnow()
    day = day_key(now, settings.limits_timezone)
    limit: str | None = None
    if wallet is not None and reason is None:
        limit = own_limit_passed(wallet, request.amount_paise, day=day)
        if limit is not None:
            reason = "limit_exceeded"
            count_after_commit(
                uow, LIMIT_REFUSALS.labels(limit=limit, tier=wallet.kyc_tier, kind="WITHDRAWAL")
            )
    hold = Hold(
        id=request.withdrawal_id,
        wallet_id=wallet.id if wallet is not None else None,
        user_id=request.user_id,
        amount_paise=request.amount_paise,
        status="HELD" if reason is None else "REFUSED",
        reason=reason,
        limit_name=limit,
        expires_at=now + hold_for,
        created_at=now,
        updated_at=now,
    )
    if wallet is None:
        # nothing to hold against: the refusal is reported, not stored
        _counted(uow, "REFUSED", reason)
        return _report(uow, hold, None, correlation_id=correlation_id)
    repository.add_hold(hold, paid_on_day=day)
    _counted(uow, hold.status, reason)  # type: ignore[arg-type]
    if hold.status == "HELD":  # counted in the day
        announce_limits(uow, wallet, settings, correlation_id)
    return _report(uow, hold, wallet, correlation_id=correlation_id)


async def _with_the_gateway(
    repository: WalletRepository, wallet: Wallet, hold: Hold, *, to_gateway: bool
) -> None:
    """Post a hold's money to the gateway's account (the payout), or back from it (the
    payout returned), as one pair of entries."""
    gateway = (await repository.lock(GATEWAY_WALLET_ID))[GATEWAY_WALLET_ID]
    source, destination = (wallet, gateway) if to_gateway else (gateway, wallet)
    repository.post(
        LedgerPair.move(
            source=source,
            destination=destination,
            paise=hold.amount_paise,
            reference=f"{'withdrawal' if to_gateway else 'return'}:{hold.id}",
            kind="WITHDRAWAL" if to_gateway else "PAYOUT_RETURN",
        )
    )


# a hold already where this outcome takes it (a repeat, or a PROCESSED after the reversal)
_ALREADY_SO = frozenset(
    {
        ("POSTED", "PROCESSED"),
        ("VOIDED", "FAILED"),
        ("RETURNED", "PROCESSED"),
        ("RETURNED", "REVERSED"),
    }
)


async def settle_hold(
    uow: UnitOfWork,
    *,
    settled: WithdrawalSettled,
    settings: WalletsSettings | None = None,
    correlation_id: str | None = None,
) -> HoldUpdated | None:
    """Apply a payout's outcome to its hold: PROCESSED posts it, FAILED voids it,
    REVERSED credits a posted one again. A payout is reversed only after it was
    processed, so a REVERSED that arrives first (webhooks come in any order) posts the
    hold and credits it back: the ledger shows the money leaving and returning, as the
    bank statement does. Anything else (already settled, never placed) repeats the
    hold's state."""
    settings = settings or default_settings()
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(settled.user_id)).get(settled.user_id)
    hold = await repository.lock_hold(settled.withdrawal_id)
    if hold is None or wallet is None:
        log.warning("withdrawal %s settled, but it holds nothing", settled.withdrawal_id)
        return None
    if hold.status == "HELD" and settled.outcome in ("PROCESSED", "REVERSED"):
        repository.settle_hold(hold, status="POSTED")
        await _with_the_gateway(repository, wallet, hold, to_gateway=True)
        _counted(uow, "POSTED")
    elif hold.status == "HELD":  # FAILED: the money never left
        repository.settle_hold(
            hold,
            status="VOIDED",
            reason=settled.reason or "payout_failed",
            paid_on_day=day_key(hold.created_at, settings.limits_timezone),
        )
        _counted(uow, "VOIDED", hold.reason)
        announce_limits(uow, wallet, settings, correlation_id)  # given back to its day
    if hold.status == "POSTED" and settled.outcome == "REVERSED":
        repository.mark_returned(hold)
        # a refund of money that left: exempt from the balance cap, as the rules say
        await _with_the_gateway(repository, wallet, hold, to_gateway=False)
        _counted(uow, "RETURNED")
    elif (hold.status, settled.outcome) not in _ALREADY_SO:
        # e.g. PROCESSED for a hold already voided: the money is not taken twice, and the
        # difference is for tijori reconcile to show
        log.error(
            "withdrawal %s settled %s, but its hold is %s; nothing changed",
            hold.id,
            settled.outcome,
            hold.status,
        )
    return _report(uow, hold, wallet, correlation_id=correlation_id)


async def void_expired_holds(
    uow: UnitOfWork, *, now: datetime, limit: int = 100, settings: WalletsSettings | None = None
) -> int:
    """Void HELD holds past their expiry (each under its wallet's lock; no longer
    counted in their day's caps); how many."""
    settings = settings or default_settings()
    repository = WalletRepository(uow)
    voided = 0
    for candidate in await repository.expired_holds(now, limit=limit):
        wallet = (await repository.lock_of_users(candidate.user_id)).get(candidate.user_id)
        hold = await repository.lock_hold(candidate.id)
        if wallet is None or hold is None or hold.status != "HELD":
            continue
        repository.settle_hold(
            hold,
            status="VOIDED",
            reason="hold_expired",
            paid_on_day=day_key(hold.created_at, settings.limits_timezone),
        )
        _counted(uow, "VOIDED", "hold_expired")
        announce_limits(uow, wallet, settings, None)
        _report(uow, hold, wallet, correlation_id=None)
        voided += 1
    return voided


async def measure_holds(uow: UnitOfWork, *, now: datetime) -> None:
    """Set the gauges of holds outstanding and the age of the oldest."""
    count, oldest = await WalletRepository(uow).outstanding_holds()
    HOLDS_OUTSTANDING.set(count)
    HOLDS_OLDEST_AGE.set((now - oldest).total_seconds() if oldest is not None else 0)
