"""Money added through the payment gateway: crediting a captured top-up, within limits."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.events import (
    EVENT_TYPES,
    Payload,
    TopupCaptured,
    TopupCredited,
    TopupRejected,
    TopupRejectionReason,
)
from tijori.common.metrics import LEDGER_TOPUPS, count_after_commit
from tijori.wallets.config import WalletsSettings
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.models import GATEWAY_WALLET_ID, TopupCredit, Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.service import emit

log = logging.getLogger(__name__)


def period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of ``now``'s calendar month and of its financial year (1 April), in
    ``timezone``: the periods the regulator's limits on money added are counted over."""
    local = now.astimezone(ZoneInfo(timezone))
    month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year = month.year if month.month >= 4 else month.year - 1
    return month, month.replace(year=year, month=4)


async def _limit_passed(
    repository: WalletRepository, wallet: Wallet, paise: int, settings: WalletsSettings
) -> str | None:
    """The name of the first limit crediting ``paise`` to ``wallet`` would pass, if any."""
    if wallet.balance_paise + paise > settings.balance_cap:
        return "balance_cap"
    month, year = period_starts(utcnow(), settings.limits_timezone)
    if await repository.loaded_since(wallet.user_id or "", month) + paise > (
        settings.monthly_load_limit
    ):
        return "monthly_load"
    if await repository.loaded_since(wallet.user_id or "", year) + paise > (
        settings.yearly_load_limit
    ):
        return "yearly_load"
    return None


async def credit_topup(
    uow: UnitOfWork,
    *,
    topup: TopupCaptured,
    settings: WalletsSettings,
    correlation_id: str | None = None,
) -> Payload:
    """Credit a captured top-up to its wallet from the gateway's account, as one balanced
    pair of entries, or refuse it whole (frozen, no wallet, over a limit); stage the
    outcome event. A top-up already decided repeats its recorded outcome."""
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(topup.user_id)).get(topup.user_id)
    recorded = await repository.get_topup_credit(topup.topup_id)
    if recorded is not None:
        log.info("top-up %s was already %s; repeating it", topup.topup_id, recorded.status)
        repeated = EVENT_TYPES[recorded.outcome_type].model_validate_json(recorded.outcome)
        emit(uow, repeated, key=topup.user_id, correlation_id=correlation_id)
        return repeated

    reason: TopupRejectionReason | None = None
    limit: str | None = None
    if wallet is None:
        reason = "wallet_not_found"
    elif wallet.status == "FROZEN":
        reason = "wallet_frozen"
    elif (
        limit := await _limit_passed(repository, wallet, topup.amount_paise, settings)
    ) is not None:
        reason = "limit_exceeded"

    outcome: Payload
    if reason is None:
        assert wallet is not None
        gateway = (await repository.lock(GATEWAY_WALLET_ID))[GATEWAY_WALLET_ID]
        repository.post(
            LedgerPair.move(
                source=gateway,
                destination=wallet,
                paise=topup.amount_paise,
                reference=f"topup:{topup.topup_id}",
                kind="TOPUP",
            )
        )
        outcome = TopupCredited(
            topup_id=topup.topup_id,
            user_id=topup.user_id,
            amount_paise=topup.amount_paise,
            balance_paise=wallet.balance_paise,
            version=wallet.version,
        )
    else:
        outcome = TopupRejected(
            topup_id=topup.topup_id,
            user_id=topup.user_id,
            amount_paise=topup.amount_paise,
            reason=reason,
            limit=limit,
        )
    event = emit(uow, outcome, key=topup.user_id, correlation_id=correlation_id)
    count_after_commit(
        uow,
        LEDGER_TOPUPS.labels(
            outcome="CREDITED" if reason is None else "REJECTED", reason=reason or ""
        ),
    )
    repository.record_topup(
        TopupCredit(
            topup_id=topup.topup_id,
            user_id=topup.user_id,
            amount_paise=topup.amount_paise,
            status="CREDITED" if reason is None else "REJECTED",
            reason=reason,
            outcome_type=event.type,
            outcome=outcome.model_dump_json(),
            created_at=event.occurred_at,
        )
    )
    return outcome
