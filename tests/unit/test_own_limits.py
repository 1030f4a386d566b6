"""The user's own daily caps and the minimum-KYC upgrade deadline: their rules, and
their enforcement in the wallets batch (which still costs no statement), in withdrawals'
holds and in top-ups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.unit.test_limits import SETTINGS, _batch, _initiated, _open
from tijori.common.auth import PaymentAuthorisation, PaymentTokenRequiredError, TokenKeys
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import (
    TopupCaptured,
    TopupRejected,
    TransferCompleted,
    TransferRejected,
    WalletLimitsChanged,
    WithdrawalRequested,
    WithdrawalSettled,
    parse_event,
)
from tijori.common.periods import today
from tijori.wallets import holds, own_limits, topups
from tijori.wallets.config import WalletsSettings
from tijori.wallets.limits import (
    own_limit_passed,
    paid_on,
    past_upgrade_deadline,
    transfer_limit_passed,
    upgrade_deadline,
)
from tijori.wallets.models import LimitChange, OutboxMessage, Wallet
from tijori.wallets.schemas import UserLimitsRequest

IST = "Asia/Kolkata"
NOW = datetime(2026, 12, 15, 6, 0, tzinfo=UTC)


def _wallet(**values: object) -> Wallet:
    defaults: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "kind": "USER",
        "kyc_tier": "MINIMUM",
        "balance_paise": 0,
        "p2p_sent_paise": 0,
        "day_paid_paise": 0,
        "day_payments": 0,
        "created_at": NOW,
    }
    return Wallet(**(defaults | values))


def test_a_daily_cap_may_be_reached_but_not_passed_and_a_new_day_starts_again() -> None:
    day = today(NOW, IST).day
    wallet = _wallet(
        daily_amount_cap_paise=10_000,
        daily_count_cap=3,
        pay_day=day,
        day_paid_paise=6_000,
        day_payments=2,
    )
    assert own_limit_passed(wallet, 4_000, day=day) is None  # to the cap exactly, the 3rd
    assert own_limit_passed(wallet, 4_001, day=day) == "daily_amount"
    assert own_limit_passed(
        _wallet(daily_count_cap=2, pay_day=day, day_payments=2), 1, day=day
    ) == ("daily_count")
    assert own_limit_passed(wallet, 10_000, day="2026-12-16") is None
    assert paid_on(wallet, "2026-12-16") == (0, 0)
    assert own_limit_passed(_wallet(pay_day=day, day_paid_paise=10**9), 10**9, day=day) is None


def test_the_day_is_india_s() -> None:
    # 18:30 UTC is midnight in India
    assert today(datetime(2026, 12, 15, 18, 29, tzinfo=UTC), IST).day == "2026-12-15"
    assert today(datetime(2026, 12, 15, 18, 30, tzinfo=UTC), IST).day == "2026-12-16"


@pytest.mark.parametrize(
    ("opened", "months", "deadline"),
    [
        # 09:30 in India on 15 January 2025 -> the same moment 24 months later
        (datetime(2025, 1, 15, 4, 0, tzinfo=UTC), 24, datetime(2027, 1, 15, 4, 0, tzinfo=UTC)),
        # the last day of a longer month ends on the shorter month's last
        (datetime(2024, 8, 31, 4, 0, tzinfo=UTC), 6, datetime(2025, 2, 28, 4, 0, tzinfo=UTC)),
        (datetime(2023, 12, 10, 4, 0, tzinfo=UTC), 1, datetime(2024, 1, 10, 4, 0, tzinfo=UTC)),
    ],
)
def test_the_upgrade_deadline_is_the_configured_months_after_the_opening(
    opened: datetime, months: int, deadline: datetime
) -> None:
    settings = WalletsSettings(kyc_upgrade_months=months)
    wallet = _wallet(created_at=opened)
    assert upgrade_deadline(wallet, settings) == deadline
    assert not past_upgrade_deadline(wallet, settings, deadline - timedelta(seconds=1))
    assert past_upgrade_deadline(wallet, settings, deadline)
    assert upgrade_deadline(_wallet(created_at=opened, kyc_tier="FULL"), settings) is None
    assert upgrade_deadline(_wallet(created_at=opened, kind="SYSTEM"), settings) is None


def test_the_default_deadline_is_24_months_and_the_caps_their_defaults() -> None:
    defaults = WalletsSettings()
    assert defaults.kyc_upgrade_months == 24
    assert (defaults.user_daily_amount_max, defaults.user_daily_count_max) == (10_000_000, 20)


def test_a_transfer_to_a_wallet_past_its_deadline_is_refused_and_the_own_caps_come_first() -> None:
    now = today(NOW, IST)
    sender = _wallet(balance_paise=50_000)
    old = _wallet(created_at=NOW - timedelta(days=2 * 366))
    check = {"settings": SETTINGS, "today": now}
    assert transfer_limit_passed(sender, old, 100, **check) == "kyc_upgrade_deadline"
    assert transfer_limit_passed(sender, _wallet(), 100, **check) is None
    capped = _wallet(balance_paise=50_000, daily_amount_cap_paise=50)
    assert transfer_limit_passed(capped, old, 100, **check) == "daily_amount"


# --- in the wallets batch, on the embedded database ---------------------------------


async def _caps(units: UnitOfWorkFactory, user: str, amount: int | None, count: int | None) -> None:
    async with units() as uow:
        await uow.session.execute(
            update(Wallet)
            .where(Wallet.user_id == user)
            .values(daily_amount_cap_paise=amount, daily_count_cap=count)
        )
        await uow.commit()


async def _limits_changed(units: UnitOfWorkFactory) -> list[WalletLimitsChanged]:
    """The ``wallet.limits_changed`` events in the wallets outbox, oldest first."""
    async with units() as uow:
        bodies = (
            await uow.session.scalars(
                select(OutboxMessage.body)
                .where(OutboxMessage.topic == "wallet.limits_changed")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [parse_event(body).payload for body in bodies]


async def _row(units: UnitOfWorkFactory, user: str) -> Wallet:
    async with units() as uow:
        wallet = await uow.session.scalar(select(Wallet).where(Wallet.user_id == user))
        assert wallet is not None
        return wallet


async def test_a_batch_never_passes_the_daily_caps_and_they_cost_no_statement(
    wallets_units: UnitOfWorkFactory,
) -> None:
    for user in "abcd":
        await _open(wallets_units, user, 40_000)
    await _caps(wallets_units, "a", 2_500, None)  # ₹25 a day
    await _caps(wallets_units, "c", None, 2)  # two payments a day
    transfers = [_initiated(1_000, s, r) for s, r in ("ab", "cd", "ab", "cd", "ab", "cd", "ba")]
    outcomes, sent = await _batch(wallets_units, transfers, SETTINGS)
    refused = [(o.sender_id, o.limit) for o in outcomes if isinstance(o, TransferRejected)]
    assert refused == [("a", "daily_amount"), ("c", "daily_count")]
    assert sum(isinstance(o, TransferCompleted) for o in outcomes) == 5
    a, c = await _row(wallets_units, "a"), await _row(wallets_units, "c")
    day = today(utcnow(), IST).day
    assert (a.pay_day, a.day_paid_paise, a.day_payments) == (day, 2_000, 2)
    assert (c.pay_day, c.day_paid_paise, c.day_payments) == (day, 2_000, 2)
    b = await _row(wallets_units, "b")
    assert (b.day_paid_paise, b.day_payments) == (1_000, 1)  # what b received counts nothing
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1 and "day_paid_paise" in updates[0], updates
    statements = [s for s in sent if not s.startswith("BEGIN")]
    assert len(statements) == 6, statements  # lock, outcomes, UPDATE, three inserts


async def test_a_wallet_past_its_deadline_takes_no_transfer_and_no_top_up(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a", 40_000)
    await _open(wallets_units, "b")
    async with wallets_units() as uow:
        await uow.session.execute(
            update(Wallet)
            .where(Wallet.user_id == "b")
            .values(created_at=utcnow() - timedelta(days=2 * 366))
        )
        await uow.commit()
    outcomes, _ = await _batch(wallets_units, [_initiated(1_000)], SETTINGS)
    assert isinstance(outcomes[0], TransferRejected)
    assert outcomes[0].limit == "kyc_upgrade_deadline"
    async with wallets_units() as uow:
        outcome = await topups.credit_topup(
            uow,
            topup=TopupCaptured(topup_id="t1", user_id="b", amount_paise=1_000, payment_id="pay_1"),
            settings=SETTINGS,
        )
        await uow.commit()
    assert isinstance(outcome, TopupRejected) and outcome.limit == "kyc_upgrade_deadline"
    assert (await _row(wallets_units, "b")).balance_paise == 10_000


async def test_a_withdrawal_counts_in_the_day_and_a_voided_one_is_given_back(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a", 40_000)
    async with wallets_units() as uow:
        await uow.session.execute(
            update(Wallet).where(Wallet.user_id == "a").values(kyc_tier="FULL")
        )
        await uow.commit()
    await _caps(wallets_units, "a", 5_000, None)

    async def place(hold_id: str, paise: int) -> tuple[str, str | None, str | None]:
        async with wallets_units() as uow:
            request = WithdrawalRequested(withdrawal_id=hold_id, user_id="a", amount_paise=paise)
            placed = await holds.place_hold(uow, request=request, hold_for=timedelta(hours=1))
            await uow.commit()
        return placed.status, placed.reason, placed.limit

    assert await place("h1", 4_000) == ("HELD", None, None)
    # refused as a transfer over the cap is: limit_exceeded, naming the cap
    assert await place("h2", 2_000) == ("REFUSED", "limit_exceeded", "daily_amount")
    assert await place("h2", 2_000) == ("REFUSED", "limit_exceeded", "daily_amount")  # again
    assert (await _row(wallets_units, "a")).day_paid_paise == 4_000
    async with wallets_units() as uow:
        settled = WithdrawalSettled(
            withdrawal_id="h1", user_id="a", amount_paise=4_000, outcome="FAILED"
        )
        await holds.settle_hold(uow, settled=settled)
        await uow.commit()
    row = await _row(wallets_units, "a")
    assert (row.day_paid_paise, row.day_payments, row.held_paise) == (0, 0, 0)
    # the placed hold and the voided one told transactions' pre-check, newest last
    changes = await _limits_changed(wallets_units)
    assert [(c.allowance.day_paid_paise, c.allowance.day_payments) for c in changes] == [
        (4_000, 1),
        (0, 0),
    ]
    assert changes[-1].version == row.version
    assert await place("h3", 5_000) == ("HELD", None, None)


async def test_lowering_needs_no_token_raising_does_and_nothing_changes_without_one(
    wallets_units: UnitOfWorkFactory, tmp_path: object
) -> None:
    await _open(wallets_units, "a", 40_000)
    keys = TokenKeys.from_settings(WalletsSettings(data_dir=str(tmp_path)))
    no_token = PaymentAuthorisation(token=None, user_id="a", keys=keys)

    async def put(body: dict[str, object], payment: PaymentAuthorisation) -> Wallet:
        async with wallets_units() as uow:
            return await own_limits.set_own_limits(
                uow,
                user_id="a",
                request=UserLimitsRequest.model_validate(body),
                payment=payment,
                settings=SETTINGS,
            )

    await put({"daily_amount": "500.00", "daily_count": 10}, no_token)  # from none: lowering
    await put({"daily_amount": "400.00"}, no_token)
    with pytest.raises(PaymentTokenRequiredError):
        await put({"daily_count": 11}, no_token)
    with pytest.raises(PaymentTokenRequiredError):
        await put({"daily_amount": None}, no_token)  # removing a cap raises it
    row = await _row(wallets_units, "a")
    assert (row.daily_amount_cap_paise, row.daily_count_cap) == (40_000, 10)
    caps = own_limits.DailyCaps(amount_paise=None, count=10)
    token = keys.issue_payment(
        user_id="a",
        amount_paise=own_limits.marker_amount(caps, SETTINGS),
        receiver=None,
        idempotency_key=own_limits.limits_marker(caps),
        ttl=timedelta(minutes=2),
    )
    assert own_limits.limits_marker(caps) == "limits:none:10"
    await put({"daily_amount": None}, PaymentAuthorisation(token=token, user_id="a", keys=keys))
    row = await _row(wallets_units, "a")
    assert (row.daily_amount_cap_paise, row.daily_count_cap) == (None, 10)
    async with wallets_units() as uow:
        changes = (await uow.session.scalars(select(LimitChange).order_by(LimitChange.id))).all()
    assert [
        (c.daily_amount_cap_paise, c.raised, c.payment_token_id is not None) for c in changes
    ] == [
        (50_000, False, False),
        (40_000, False, False),
        (None, True, True),
    ]
