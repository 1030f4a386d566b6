"""The limits of a wallet's KYC tier: their arithmetic, India's months and financial
years, and their enforcement in the wallets batch, which costs no statement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from tests.unit.statements import statements_sent
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import (
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    UserKycUpdated,
)
from tijori.common.periods import Today, month_key
from tijori.wallets import service
from tijori.wallets.config import WalletsSettings
from tijori.wallets.limits import (
    limits_of,
    load_limit_passed,
    period_starts,
    sent_in,
    transfer_limit_passed,
)
from tijori.wallets.models import LedgerEntry, Wallet
from tijori.wallets.repository import WalletRepository

SETTINGS = WalletsSettings(
    balance_cap="500.00",
    p2p_monthly_limit="100.00",
    full_balance_cap="2000.00",
    full_p2p_monthly_limit="300.00",
)
IST = "Asia/Kolkata"


NOW = datetime(2026, 12, 15, 6, 0, tzinfo=UTC)


def _day(month: str, day: str | None = None) -> Today:
    return Today(now=NOW, month=month, day=day or f"{month}-15")


def _wallet(
    tier: str = "MINIMUM",
    balance: int = 0,
    month: str | None = None,
    sent: int = 0,
    created_at: datetime = NOW,
) -> Wallet:
    return Wallet(
        id=str(uuid.uuid4()),
        kind="USER",
        kyc_tier=tier,
        balance_paise=balance,
        p2p_month=month,
        p2p_sent_paise=sent,
        day_paid_paise=0,
        day_payments=0,
        created_at=created_at,
    )


def test_the_defaults_are_the_regulator_s() -> None:
    defaults = WalletsSettings()
    minimum, full = limits_of(defaults, "MINIMUM"), limits_of(defaults, "FULL")
    assert (minimum.balance_cap, minimum.monthly_load, minimum.yearly_load) == (
        1_000_000,
        1_000_000,
        12_000_000,
    )
    assert minimum.monthly_p2p == full.monthly_p2p == 1_000_000
    assert (full.balance_cap, full.monthly_load, full.yearly_load) == (20_000_000, None, None)
    assert limits_of(defaults, "PENDING") == minimum  # anything not FULL is minimum-detail


@pytest.mark.parametrize(
    ("now", "month", "year", "key"),
    [
        # 31 March 18:30 UTC is midnight of 1 April in India: a new month and financial year
        (datetime(2026, 3, 31, 18, 30, tzinfo=UTC), (2026, 4), 2026, "2026-04"),
        (datetime(2026, 3, 31, 18, 29, 59, tzinfo=UTC), (2026, 3), 2025, "2026-03"),
        (datetime(2027, 1, 15, 0, 0, tzinfo=UTC), (2027, 1), 2026, "2027-01"),
        (datetime(2026, 12, 31, 18, 30, tzinfo=UTC), (2027, 1), 2026, "2027-01"),
    ],
)
def test_periods_are_india_s_calendar_months_and_april_to_march_years(
    now: datetime, month: tuple[int, int], year: int, key: str
) -> None:
    month_start, year_start = period_starts(now, IST)
    assert (month_start.year, month_start.month, month_start.day, month_start.hour) == (
        *month,
        1,
        0,
    )
    assert (year_start.year, year_start.month, year_start.day) == (year, 4, 1)
    assert month_key(now, IST) == key


def test_what_was_sent_in_an_earlier_month_counts_nothing_now() -> None:
    assert sent_in(_wallet(month="2026-11", sent=9_000), "2026-12") == 0
    assert sent_in(_wallet(month="2026-12", sent=9_000), "2026-12") == 9_000
    assert sent_in(_wallet(), "2026-12") == 0


def test_a_transfer_may_reach_a_limit_but_not_pass_it() -> None:
    sender = _wallet(balance=50_000, month="2026-12", sent=6_000)
    receiver = _wallet(balance=40_000)
    check = {"settings": SETTINGS, "today": _day("2026-12")}
    assert transfer_limit_passed(sender, receiver, 4_000, **check) is None  # 100.00 exactly
    assert transfer_limit_passed(sender, receiver, 4_001, **check) == "monthly_p2p"
    # a new month: the counter starts again
    assert (
        transfer_limit_passed(sender, receiver, 4_001, settings=SETTINGS, today=_day("2027-01"))
        is None
    )
    poorer = _wallet(balance=46_001)
    assert transfer_limit_passed(sender, poorer, 4_000, **check) == "receiver_balance_cap"
    full_sender = _wallet("FULL", month="2026-12", sent=6_000)
    full_receiver = _wallet("FULL", balance=190_000)
    assert transfer_limit_passed(full_sender, full_receiver, 10_000, **check) is None
    assert transfer_limit_passed(full_sender, full_receiver, 24_001, **check) == "monthly_p2p"


def test_money_added_is_limited_by_the_tier() -> None:
    minimum = _wallet(balance=40_000)
    loads = {"settings": SETTINGS, "loaded_this_month": 0, "loaded_this_year": 0, "now": NOW}
    assert load_limit_passed(minimum, 10_000, **loads) is None
    assert load_limit_passed(minimum, 10_001, **loads) == "balance_cap"
    month_full = loads | {"loaded_this_month": 995_000}
    assert load_limit_passed(minimum, 5_001, **month_full) == "monthly_load"
    year_full = loads | {"loaded_this_year": 11_999_000}
    assert load_limit_passed(minimum, 1_001, **year_full) == "yearly_load"
    full = _wallet("FULL", balance=40_000)
    lots = loads | {"loaded_this_month": 10**9, "loaded_this_year": 10**9}
    assert load_limit_passed(full, 160_000, **lots) is None  # only the cap counts
    assert load_limit_passed(full, 160_001, **lots) == "balance_cap"


# --- in the wallets batch, on the embedded database ---------------------------------


async def _open(units: UnitOfWorkFactory, user_id: str, paise: int = 10_000) -> None:
    user = UserCreated(
        user_id=user_id, name=user_id, email=f"{user_id}@x.co", phone="+919876543210"
    )
    async with units() as uow:
        await service.open_wallet(uow, user=user, promo_paise=paise)
        await uow.commit()


def _initiated(amount: int, sender: str = "a", receiver: str = "b") -> TransactionInitiated:
    return TransactionInitiated(
        transaction_id=str(uuid.uuid4()),
        sender_id=sender,
        receiver_id=receiver,
        amount_paise=amount,
    )


async def _batch(
    units: UnitOfWorkFactory, transfers: list[TransactionInitiated], settings: WalletsSettings
) -> tuple[list[object], list[str]]:
    """Apply ``transfers`` as the consumer applies a batch: one transaction, everything
    locked and read first; the outcomes and the statements sent."""
    async with units() as uow:
        with statements_sent(uow) as sent:
            await WalletRepository(uow).prefetch_transfers(transfers)
            outcomes: list[object] = [
                await service.apply_transfer(uow, transfer=transfer, settings=settings)
                for transfer in transfers
            ]
            await uow.commit()
    return outcomes, sent


async def _balances(units: UnitOfWorkFactory) -> dict[str, tuple[int, str | None, int]]:
    async with units() as uow:
        rows = await uow.session.execute(
            select(
                Wallet.user_id, Wallet.balance_paise, Wallet.p2p_month, Wallet.p2p_sent_paise
            ).where(Wallet.kind == "USER")
        )
        return {user: (balance, month, sent) for user, balance, month, sent in rows}


async def test_a_batch_never_passes_the_monthly_limit_and_the_one_over_it_moves_nothing(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a", 40_000)
    await _open(wallets_units, "b")
    transfers = [_initiated(3_000) for _ in range(5)]  # 150.00 against a limit of 100.00
    outcomes, _ = await _batch(wallets_units, transfers, SETTINGS)
    completed = [o for o in outcomes if isinstance(o, TransferCompleted)]
    refused = [o for o in outcomes if isinstance(o, TransferRejected)]
    assert len(completed) == 3 and len(refused) == 2
    assert {(o.reason, o.limit) for o in refused} == {("limit_exceeded", "monthly_p2p")}
    month = month_key(datetime.now(UTC), IST)
    balances = await _balances(wallets_units)
    assert balances["a"] == (31_000, month, 9_000)
    assert balances["b"][0] == 19_000 and balances["b"][2] == 0  # received is not sent
    async with wallets_units() as uow:
        refs = {o.transaction_id for o in refused}
        moved = (
            await uow.session.scalars(select(LedgerEntry.id).where(LedgerEntry.reference.in_(refs)))
        ).all()
    assert moved == []


async def test_last_month_s_sending_does_not_count_this_month(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a", 40_000)
    await _open(wallets_units, "b")
    async with wallets_units() as uow:
        await uow.session.execute(
            update(Wallet)
            .where(Wallet.user_id == "a")
            .values(p2p_month="2000-01", p2p_sent_paise=10_000)
        )
        await uow.commit()
    outcomes, _ = await _batch(wallets_units, [_initiated(10_000)], SETTINGS)
    assert isinstance(outcomes[0], TransferCompleted)
    assert (await _balances(wallets_units))["a"][2] == 10_000


async def test_a_credit_past_the_receiver_s_cap_fails_and_the_sender_keeps_the_money(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a", 40_000)
    await _open(wallets_units, "b", 45_000)
    outcomes, _ = await _batch(wallets_units, [_initiated(5_001)], SETTINGS)
    refused = outcomes[0]
    assert isinstance(refused, TransferRejected)
    assert (refused.reason, refused.limit) == ("limit_exceeded", "receiver_balance_cap")
    balances = await _balances(wallets_units)
    assert (balances["a"][0], balances["a"][2], balances["b"][0]) == (40_000, 0, 45_000)


async def test_a_full_kyc_wallet_gets_its_tier_s_limits(wallets_units: UnitOfWorkFactory) -> None:
    await _open(wallets_units, "a", 40_000)
    await _open(wallets_units, "b", 45_000)
    for user in ("a", "b"):
        async with wallets_units() as uow:
            await service.apply_kyc(uow, update=UserKycUpdated(user_id=user, kyc="FULL"))
            await uow.commit()
    rejected = UserKycUpdated(user_id="a", kyc="REJECTED", reason="pan_not_found")
    async with wallets_units() as uow:
        assert await service.apply_kyc(uow, update=rejected) is None
        await uow.commit()
    outcomes, _ = await _batch(wallets_units, [_initiated(20_000)], SETTINGS)
    assert isinstance(outcomes[0], TransferCompleted)  # past the minimum's 100.00 and cap


async def test_the_limits_cost_no_statement_a_batch_of_transfers_is_one_update(
    wallets_units: UnitOfWorkFactory,
) -> None:
    for user in "abcd":
        await _open(wallets_units, user, 40_000)
    transfers = [_initiated(1_000, s, r) for s, r in ("ab", "cd", "ba", "dc", "ac", "ab")]
    transfers.append(_initiated(90_000, "a", "b"))  # refused: no money
    transfers.append(_initiated(9_001, "c", "b"))  # refused: past c's monthly limit
    outcomes, sent = await _batch(wallets_units, transfers, SETTINGS)
    assert [type(o).__name__ for o in outcomes][-2:] == ["TransferRejected"] * 2
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE")]
    # the wallets' balances, versions and month counters together: one statement
    assert len(updates) == 1 and "p2p_sent_paise" in updates[0], updates
    # lock the wallets, read recorded outcomes, one UPDATE, then the inserts (ledger
    # entries, transfers, outbox): what the batch sent before the limits, no more
    statements = [s for s in sent if not s.startswith("BEGIN")]
    assert len(statements) == 6, statements
