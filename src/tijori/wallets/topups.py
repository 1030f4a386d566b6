"""Money added through the payment gateway: crediting a captured top-up, within limits."""

from __future__ import annotations

import logging

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
from tijori.common.metrics import LEDGER_TOPUPS, LIMIT_REFUSALS, count_after_commit
from tijori.wallets.config import WalletsSettings
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.limits import (
    limits_of,
    load_limit_passed,
    past_upgrade_deadline,
    period_starts,
)
from tijori.wallets.models import GATEWAY_WALLET_ID, TopupCredit, Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.service import emit

log = logging.getLogger(__name__)


async def _limit_passed(
    repository: WalletRepository, wallet: Wallet, paise: int, settings: WalletsSettings
) -> str | None:
    """The name of the first limit of the wallet's tier crediting ``paise`` would pass
    (the upgrade deadline first); money added is summed only for a tier that limits it."""
    limits = limits_of(settings, wallet.kyc_tier)
    now = utcnow()
    month_loaded = year_loaded = 0
    if past_upgrade_deadline(wallet, settings, now):
        return "kyc_upgrade_deadline"  # no credit at all: what was added does not matter
    if limits.monthly_load is not None or limits.yearly_load is not None:
        month, year = period_starts(now, settings.limits_timezone)
        month_loaded = await repository.loaded_since(wallet.user_id or "", month)
        year_loaded = await repository.loaded_since(wallet.user_id or "", year)
    return load_limit_passed(
        wallet,
        paise,
        settings=settings,
        loaded_this_month=month_loaded,
        loaded_this_year=year_loaded,
        now=now,
    )


async def credit_topup(
    uow: UnitOfWork,
    *,
    topup: TopupCaptured,
    settings: WalletsSettings,
    correlation_id: str | None = None,
) -> Payload:
    """Credit a captured top-up to its wallet from the gateway's account, as one balanced
    pair of entries, or refuse it whole (no wallet, over a limit); stage the outcome
    event. A frozen wallet is credited: a freeze refuses debits only. A top-up already
    decided repeats its recorded outcome."""
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
    elif (
        limit := await _limit_passed(repository, wallet, topup.amount_paise, settings)
    ) is not None:
        reason = "limit_exceeded"
        assert wallet is not None
        count_after_commit(
            uow, LIMIT_REFUSALS.labels(limit=limit, tier=wallet.kyc_tier, kind="TOPUP")
        )

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
