"""Holds and top-up credits in the wallets service, on its migrated database: a hold is
placed only within the available balance, then posted or voided exactly once; a top-up is
credited once from the gateway's account, within the wallet's limits, or refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import (
    TopupCaptured,
    TopupCredited,
    WithdrawalRequested,
    WithdrawalSettled,
)
from tijori.wallets import holds, topups
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import GATEWAY_WALLET_ID, Hold, LedgerEntry, Wallet

HOLD_FOR = timedelta(hours=1)


@pytest.fixture
async def units(wallets_units: UnitOfWorkFactory) -> UnitOfWorkFactory:
    async with wallets_units() as uow:
        # only a full-KYC wallet withdraws to a bank
        uow.session.add(
            Wallet(id="w1", user_id="u1", balance_paise=10_000, version=1, kyc_tier="FULL")
        )
        await uow.commit()
    return wallets_units


async def _tier(units: UnitOfWorkFactory, tier: str) -> None:
    async with units() as uow:
        await uow.session.execute(update(Wallet).where(Wallet.id == "w1").values(kyc_tier=tier))
        await uow.commit()


async def _wallet(units: UnitOfWorkFactory, wallet_id: str = "w1") -> Wallet:
    async with units() as uow:
        wallet = await uow.session.get(Wallet, wallet_id)
        assert wallet is not None
        return wallet


async def _entries(units: UnitOfWorkFactory, reference: str) -> int:
    async with units() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reference == reference)
        )
        return int(count or 0)


async def _place(units: UnitOfWorkFactory, hold_id: str, paise: int) -> str:
    async with units() as uow:
        update = await holds.place_hold(
            uow,
            request=WithdrawalRequested(withdrawal_id=hold_id, user_id="u1", amount_paise=paise),
            hold_for=HOLD_FOR,
        )
        await uow.commit()
    return update.status


async def _settle(units: UnitOfWorkFactory, hold_id: str, outcome: str, paise: int = 6_000) -> str:
    async with units() as uow:
        update = await holds.settle_hold(
            uow,
            settled=WithdrawalSettled(
                withdrawal_id=hold_id, user_id="u1", amount_paise=paise, outcome=outcome
            ),
        )
        await uow.commit()
    assert update is not None
    return update.status


async def test_a_hold_lowers_what_is_available_and_a_second_past_it_is_refused(
    units: UnitOfWorkFactory,
) -> None:
    assert await _place(units, "h1", 6_000) == "HELD"
    wallet = await _wallet(units)
    assert (wallet.balance_paise, wallet.held_paise, wallet.available_paise) == (
        10_000,
        6_000,
        4_000,
    )
    assert await _place(units, "h2", 4_001) == "REFUSED"
    assert await _place(units, "h1", 6_000) == "HELD"  # sent again: the same hold, no second
    assert (await _wallet(units)).held_paise == 6_000


async def test_a_posted_hold_moves_the_money_once_and_can_never_be_voided(
    units: UnitOfWorkFactory,
) -> None:
    await _place(units, "h1", 6_000)
    assert await _settle(units, "h1", "PROCESSED") == "POSTED"
    assert await _settle(units, "h1", "PROCESSED") == "POSTED"  # again: nothing more
    assert await _settle(units, "h1", "FAILED") == "POSTED"  # a void after a post: refused
    wallet = await _wallet(units)
    assert (wallet.balance_paise, wallet.held_paise) == (4_000, 0)
    assert await _entries(units, "withdrawal:h1") == 2
    assert (await _wallet(units, GATEWAY_WALLET_ID)).balance_paise == 6_000


async def test_a_voided_hold_can_never_be_posted(units: UnitOfWorkFactory) -> None:
    await _place(units, "h1", 6_000)
    assert await _settle(units, "h1", "FAILED") == "VOIDED"
    assert await _settle(units, "h1", "PROCESSED") == "VOIDED"  # a post after a void: refused
    wallet = await _wallet(units)
    assert (wallet.balance_paise, wallet.held_paise) == (10_000, 0)
    assert await _entries(units, "withdrawal:h1") == 0


async def test_a_reversed_payout_is_credited_back_once(units: UnitOfWorkFactory) -> None:
    await _place(units, "h1", 6_000)
    await _settle(units, "h1", "PROCESSED")
    assert await _settle(units, "h1", "REVERSED") == "RETURNED"
    assert await _settle(units, "h1", "REVERSED") == "RETURNED"
    assert (await _wallet(units)).balance_paise == 10_000
    assert await _entries(units, "return:h1") == 2


async def test_a_reversal_that_arrives_before_the_payout_was_processed_posts_and_returns(
    units: UnitOfWorkFactory,
) -> None:
    """Webhooks come in any order: a payout is reversed only after it was processed, so
    the money left and came back, and the ledger shows both, once."""
    await _place(units, "h1", 6_000)
    assert await _settle(units, "h1", "REVERSED") == "RETURNED"
    assert await _settle(units, "h1", "PROCESSED") == "RETURNED"  # the late one: nothing
    assert await _settle(units, "h1", "REVERSED") == "RETURNED"
    wallet = await _wallet(units)
    assert (wallet.balance_paise, wallet.held_paise) == (10_000, 0)
    assert (await _entries(units, "withdrawal:h1"), await _entries(units, "return:h1")) == (2, 2)
    assert (await _wallet(units, GATEWAY_WALLET_ID)).balance_paise == 0


async def test_a_hold_past_its_expiry_is_voided(units: UnitOfWorkFactory) -> None:
    await _place(units, "h1", 6_000)
    async with units() as uow:
        assert await holds.void_expired_holds(uow, now=utcnow()) == 0
        assert await holds.void_expired_holds(uow, now=utcnow() + HOLD_FOR * 2) == 1
        await uow.commit()
    async with units() as uow:
        hold = await uow.session.get(Hold, "h1")
        assert hold is not None and (hold.status, hold.reason) == ("VOIDED", "hold_expired")
    assert (await _wallet(units)).held_paise == 0


async def _credit(
    units: UnitOfWorkFactory, topup_id: str, paise: int, settings: WalletsSettings
) -> object:
    async with units() as uow:
        outcome = await topups.credit_topup(
            uow,
            topup=TopupCaptured(
                topup_id=topup_id, user_id="u1", payment_id=f"pay_{topup_id}", amount_paise=paise
            ),
            settings=settings,
        )
        await uow.commit()
    return outcome


async def test_a_top_up_is_credited_once_and_refused_whole_past_a_limit(
    units: UnitOfWorkFactory,
) -> None:
    await _tier(units, "MINIMUM")
    settings = WalletsSettings(balance_cap="500.00", monthly_load_limit="300.00")
    credited = await _credit(units, "t1", 20_000, settings)
    assert isinstance(credited, TopupCredited) and credited.balance_paise == 30_000
    again = await _credit(units, "t1", 20_000, settings)
    assert again == credited  # the recorded outcome, nothing credited twice
    over_month = await _credit(units, "t2", 10_001, settings)
    assert (getattr(over_month, "reason", None), getattr(over_month, "limit", None)) == (
        "limit_exceeded",
        "monthly_load",
    )
    assert (await _wallet(units)).balance_paise == 30_000
    assert await _entries(units, "topup:t1") == 2 and await _entries(units, "topup:t2") == 0
    capped = WalletsSettings(balance_cap="400.00", monthly_load_limit="10000.00")
    over_cap = await _credit(units, "t3", 10_001, capped)
    assert getattr(over_cap, "limit", None) == "balance_cap"


@pytest.mark.parametrize(
    ("now", "month", "year"),
    [
        # 31 March 20:00 UTC is already 1 April in India: a new month and financial year
        (datetime(2026, 3, 31, 20, 0, tzinfo=UTC), (2026, 4), 2026),
        (datetime(2026, 3, 31, 18, 0, tzinfo=UTC), (2026, 3), 2025),
        (datetime(2027, 1, 15, 0, 0, tzinfo=UTC), (2027, 1), 2026),
    ],
)
def test_limits_count_india_s_months_and_financial_years(
    now: datetime, month: tuple[int, int], year: int
) -> None:
    month_start, year_start = topups.period_starts(now, "Asia/Kolkata")
    assert (month_start.year, month_start.month, month_start.day) == (*month, 1)
    assert (year_start.year, year_start.month, year_start.day) == (year, 4, 1)


async def test_a_minimum_kyc_wallet_cannot_hold_for_a_withdrawal(units: UnitOfWorkFactory) -> None:
    await _tier(units, "MINIMUM")
    async with units() as uow:
        update = await holds.place_hold(
            uow,
            request=WithdrawalRequested(withdrawal_id="h1", user_id="u1", amount_paise=1_000),
            hold_for=HOLD_FOR,
        )
        await uow.commit()
    assert (update.status, update.reason) == ("REFUSED", "kyc_required")
    assert (await _wallet(units)).held_paise == 0


async def test_a_full_kyc_wallet_adds_money_up_to_its_own_cap_without_monthly_limits(
    units: UnitOfWorkFactory,
) -> None:
    settings = WalletsSettings(
        monthly_load_limit="300.00", yearly_load_limit="300.00", full_balance_cap="1000.00"
    )
    credited = await _credit(units, "t1", 80_000, settings)  # past the minimum's limits
    assert isinstance(credited, TopupCredited) and credited.balance_paise == 90_000
    over_cap = await _credit(units, "t2", 10_001, settings)
    assert getattr(over_cap, "limit", None) == "balance_cap"
