"""Transactions' pre-check of the sender's limits: what wallets told it of a sender's
allowance refuses at once, with 422 limit_exceeded, the limit and what is left, a
transfer wallets would refuse; an earlier month or day counts nothing, pending
transfers count, older news is ignored, and nothing known checks nothing. The month's
limit wallets announced for the tier counts over the allowance's, and a frozen sender
is a 423 (test_precheck_freezes_and_tiers.py has them in the databases)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.unit import transfers
from tests.unit.allowances import (
    account_of,
    an_allowance,
    knows,
    learn,
    pending_amounts,
    wallet_events,
)
from tests.unit.conftest import metric_value
from tests.unit.statements import statements_sent
from tijori.common.auth import PaymentAuthorisation, TokenKeys
from tijori.common.cache import MemoryCache
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.errors import ProblemError, UnprocessableError
from tijori.common.events import (
    Allowance,
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    UserKycUpdated,
    new_event,
    parse_event,
)
from tijori.common.periods import INDIA, Today, today
from tijori.transactions import acceptance, settlement
from tijori.transactions.allowance import (
    LimitLeft,
    frozen_refusal,
    is_frozen,
    limit_passed,
    refusal,
)
from tijori.transactions.models import Transaction
from tijori.transactions.repository import TransactionRepository
from tijori.wallets import own_limits, service
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import OutboxMessage as WalletOutbox
from tijori.wallets.schemas import UserLimitsRequest

NOW = Today(now=datetime(2026, 12, 15, 6, 0, tzinfo=UTC), month="2026-12", day="2026-12-15")


def _passed(
    known: Allowance | None, paise: int, paid: int = 0, count: int = 0, tier: int | None = None
) -> Any:
    return limit_passed(
        known,
        paise,
        pending_paise=paid,
        pending_count=count,
        today=NOW,
        tier_monthly_p2p_paise=tier,
    )


# --- the decision ---------------------------------------------------------------------


def test_nothing_known_checks_nothing() -> None:
    assert _passed(None, 10**12) is None


def test_the_monthly_limit_may_be_reached_not_passed_and_says_what_is_left() -> None:
    known = an_allowance(p2p_sent_paise=6_000)
    assert _passed(known, 4_000) is None  # to the limit exactly
    assert _passed(known, 4_001) == LimitLeft("monthly_p2p", 4_000)
    # sent above a limit lowered since (an operator's change): nothing is left, not less
    assert _passed(an_allowance(p2p_sent_paise=12_000), 1) == LimitLeft("monthly_p2p", 0)


def test_an_earlier_month_or_day_counts_nothing() -> None:
    last_month = an_allowance(p2p_month="2026-11", p2p_sent_paise=10_000)
    assert _passed(last_month, 10_000) is None
    assert _passed(an_allowance(p2p_month=None), 10_000) is None  # never sent
    yesterday = an_allowance(
        daily_amount_cap_paise=2_000,
        daily_count_cap=1,
        pay_day="2026-12-14",
        day_paid_paise=2_000,
        day_payments=1,
    )
    assert _passed(yesterday, 2_000) is None
    # a limit larger than one payment is still a limit in a new month
    assert _passed(last_month, 10_001) == LimitLeft("monthly_p2p", 10_000)


def test_pending_transfers_count_against_what_is_left() -> None:
    known = an_allowance(
        p2p_sent_paise=5_000,
        daily_amount_cap_paise=8_000,
        daily_count_cap=3,
        day_paid_paise=5_000,
        day_payments=1,
    )
    assert _passed(known, 3_000) is None  # to the daily ₹80 exactly
    # with ₹20 pending in one transfer, ₹10 of the ₹80 is left
    assert _passed(known, 3_000, paid=2_000, count=1) == LimitLeft("daily_amount", 1_000)
    assert _passed(known, 100, paid=100, count=2) == LimitLeft("daily_count", 0)
    # pending counts in a new day and month too: they are decided now
    fresh = an_allowance(p2p_month="2026-11", p2p_sent_paise=9_999, pay_day="2026-12-01")
    assert _passed(fresh, 5_000, paid=6_000, count=1) == LimitLeft("monthly_p2p", 4_000)


def test_the_own_caps_come_first_as_in_wallets() -> None:
    everything = an_allowance(
        p2p_sent_paise=10_000,
        daily_amount_cap_paise=1_000,
        daily_count_cap=1,
        day_paid_paise=1_000,
        day_payments=1,
    )
    assert _passed(everything, 1) == LimitLeft("daily_amount", 0)
    assert _passed(an_allowance(p2p_sent_paise=10_000, daily_count_cap=0), 1) == LimitLeft(
        "daily_count", 0
    )


def test_a_refusal_is_a_422_naming_the_limit_and_what_is_left() -> None:
    monthly = refusal(LimitLeft("monthly_p2p", 1_250))
    assert (monthly.status, monthly.code) == (422, "limit_exceeded")
    assert monthly.extra == {"limit": "monthly_p2p", "left": "12.50"}
    assert "₹12.50 is left of this month's limit" in monthly.detail
    count = refusal(LimitLeft("daily_count", 0))
    assert count.extra == {"limit": "daily_count", "left": 0}  # payments, not rupees


def test_the_month_s_limit_wallets_announced_for_the_tier_counts_over_the_allowance_s() -> None:
    # told with a ₹100 limit, all of it sent; then wallets announced ₹150 for the tier
    spent = an_allowance(tier="MINIMUM", p2p_sent_paise=10_000)
    assert _passed(spent, 1) == LimitLeft("monthly_p2p", 0)
    assert _passed(spent, 5_000, tier=15_000) is None  # to the raised limit exactly
    assert _passed(spent, 5_001, tier=15_000) == LimitLeft("monthly_p2p", 5_000)
    # lowered below what was sent: nothing is left, not less
    assert _passed(spent, 1, tier=5_000) == LimitLeft("monthly_p2p", 0)
    # the own caps come first still
    capped = an_allowance(tier="MINIMUM", daily_count_cap=1, day_payments=1)
    assert _passed(capped, 1, tier=10**9) == LimitLeft("daily_count", 0)


def test_a_frozen_sender_is_a_423_wallet_frozen_and_nothing_known_is_not_frozen() -> None:
    assert not is_frozen(None)
    assert not is_frozen(an_allowance())
    assert is_frozen(an_allowance(frozen=True))
    refused = frozen_refusal()
    assert (refused.status, refused.code) == (423, "wallet_frozen")  # as a withdrawal's


def test_an_allowance_written_before_tier_and_frozen_still_parses_not_frozen() -> None:
    outcome = TransferCompleted(
        transaction_id="t1",
        sender_id="asha",
        receiver_id="ravi",
        amount_paise=100,
        sender_balance_paise=9_900,
        sender_version=2,
        receiver_balance_paise=10_100,
        receiver_version=2,
        sender_allowance=an_allowance(tier="FULL", frozen=True),
    )
    written = json.loads(new_event(outcome).model_dump_json())
    for field in ("tier", "frozen"):
        del written["payload"]["sender_allowance"][field]
    parsed = parse_event(json.dumps(written)).payload.sender_allowance
    assert (parsed.tier, parsed.frozen) == (None, False)
    assert parsed.monthly_p2p_paise == 10_000


# --- learning it, in the transactions database ----------------------------------------


def _completed(
    txn: Transaction, *, version: int, known: Allowance | None, receiver_version: int = 1
) -> TransferCompleted:
    return TransferCompleted(
        transaction_id=txn.id,
        sender_id=txn.sender_id,
        receiver_id=txn.receiver_id,
        amount_paise=txn.amount_paise,
        sender_balance_paise=10_000 - txn.amount_paise,
        sender_version=version,
        receiver_balance_paise=10_000 + txn.amount_paise,
        receiver_version=receiver_version,
        sender_allowance=known,
    )


async def _settle(units: UnitOfWorkFactory, *outcomes: TransferCompleted) -> None:
    async with units() as uow:
        await TransactionRepository(uow).prefetch_outcomes(outcomes)
        for outcome in outcomes:
            await settlement.settle(uow, outcome=outcome)
        await uow.commit()


async def test_outcomes_and_limit_changes_teach_the_allowance_and_older_news_is_ignored(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    assert (await account_of(transactions_units, "asha")).limits_version is None
    txn = (await transfers.accept(transactions_units, known, "10.00")).transaction
    sent = an_allowance(p2p_sent_paise=1_000, day_paid_paise=1_000, day_payments=1)
    await _settle(transactions_units, _completed(txn, version=5, known=sent))
    asha = await account_of(transactions_units, "asha")
    assert (asha.limits_version, asha.p2p_sent_paise, asha.day_payments) == (5, 1_000, 1)
    # a raise of the cap at version 7, then news from version 6 that came late
    await learn(transactions_units, "asha", 7, sent.model_copy(update={"daily_count_cap": 9}))
    await learn(transactions_units, "asha", 6, sent.model_copy(update={"daily_count_cap": 1}))
    asha = await account_of(transactions_units, "asha")
    assert (asha.limits_version, asha.daily_count_cap, asha.version) == (7, 9, 5)
    assert (await account_of(transactions_units, "ravi")).limits_version is None  # received


async def test_a_balance_learned_as_receiver_does_not_hide_an_olderan_allowance(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    txn = (await transfers.accept(transactions_units, known, "10.00")).transaction
    # ravi paid asha meanwhile (asha's version 9), told before asha's own outcome (8)
    async with transactions_units() as uow:
        repository = TransactionRepository(uow)
        asha = (await repository.lock_accounts(["asha"]))["asha"]
        repository.learn(asha, version=9, balance_paise=9_500)
        await uow.commit()
    own = an_allowance(p2p_sent_paise=1_000)
    await _settle(transactions_units, _completed(txn, version=8, known=own))
    asha = await account_of(transactions_units, "asha")
    assert (asha.balance_paise, asha.version) == (9_500, 9)  # the newer balance stays
    assert (asha.limits_version, asha.p2p_sent_paise) == (8, 1_000)  # and the allowance is news


async def test_a_batch_of_outcomes_still_writes_its_accounts_in_one_update(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    first = (await transfers.accept(transactions_units, known, "10.00")).transaction
    second = (await transfers.accept(transactions_units, known, "20.00")).transaction
    batch = [
        # the sender's allowance and both balances, the receiver's without an allowance
        _completed(first, version=2, known=an_allowance(p2p_sent_paise=1_000), receiver_version=2),
        _completed(second, version=3, known=an_allowance(p2p_sent_paise=3_000), receiver_version=3),
    ]
    async with transactions_units() as uow:
        with statements_sent(uow) as sent:
            await TransactionRepository(uow).prefetch_outcomes(batch)
            for outcome in batch:
                await settlement.settle(uow, outcome=outcome)
            await uow.commit()
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE accounts".upper())]
    assert len(updates) == 1, updates
    assert (await account_of(transactions_units, "asha")).p2p_sent_paise == 3_000


# --- refusing at once, in the accept batch ---------------------------------------------


async def test_a_transfer_over_the_monthly_limit_is_refused_at_once_and_nothing_is_stored(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    await knows(transactions_units, monthly_p2p_paise=5_000, p2p_sent_paise=2_000)
    first = await transfers.accept(transactions_units, known, "20.00")  # ₹30 left, 20 pending
    counted = metric_value(
        "tijori_precheck_refusals_total", code="limit_exceeded", limit="monthly_p2p"
    )
    with pytest.raises(UnprocessableError) as refused:
        await transfers.accept(transactions_units, known, "10.01")
    assert (refused.value.code, refused.value.extra) == (
        "limit_exceeded",
        {"limit": "monthly_p2p", "left": "10.00"},
    )
    assert (
        metric_value("tijori_precheck_refusals_total", code="limit_exceeded", limit="monthly_p2p")
        == counted + 1
    )
    assert await pending_amounts(transactions_units) == [first.transaction.amount_paise]
    await transfers.accept(transactions_units, known, "10.00")  # to the limit exactly


async def test_the_own_daily_caps_are_refused_at_once_counting_what_ispending_amounts(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    await knows(transactions_units, daily_amount_cap_paise=3_000, day_paid_paise=1_000)
    with pytest.raises(UnprocessableError) as over:
        await transfers.accept(transactions_units, known, "20.01")
    assert over.value.extra == {"limit": "daily_amount", "left": "20.00"}
    await knows(transactions_units, daily_count_cap=2, day_payments=1)
    await transfers.accept(transactions_units, known, "1.00")  # the second of two
    with pytest.raises(UnprocessableError) as counted:
        await transfers.accept(transactions_units, known, "1.00")
    assert counted.value.extra == {"limit": "daily_count", "left": 0}


async def test_a_batch_counts_what_it_accepted_before_against_the_limits(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    await knows(transactions_units, daily_count_cap=2)
    batch = [await transfers.candidate(transactions_units, known, "1.00") for _ in range(3)]
    async with transactions_units() as uow:
        with statements_sent(uow) as sent:
            results = await acceptance.accept_batch(uow, batch)
            await uow.commit()
    codes = [r.code if isinstance(r, ProblemError) else "ok" for r in results]
    assert codes == ["ok", "ok", "limit_exceeded"]
    # the limits cost the batch no statement: its two reads, as before
    assert len([s for s in sent if s.lstrip().upper().startswith("SELECT")]) == 2


async def test_news_of_a_raise_or_a_new_day_lets_the_payment_through(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    await knows(transactions_units, daily_amount_cap_paise=1_000, day_paid_paise=1_000)
    with pytest.raises(UnprocessableError):
        await transfers.accept(transactions_units, known, "5.00")
    await knows(transactions_units, daily_amount_cap_paise=None, day_paid_paise=1_000)
    await transfers.accept(transactions_units, known, "5.00")
    # the counters of yesterday, the limit of a full-KYC wallet: nothing in the way
    account = await account_of(transactions_units, "asha")
    yesterday = an_allowance(
        daily_amount_cap_paise=1_000, day_paid_paise=1_000, pay_day="2000-01-01"
    )
    await learn(transactions_units, "asha", (account.limits_version or 0) + 1, yesterday)
    await transfers.accept(transactions_units, known, "5.00")


# --- what wallets tells, from the locked rows ------------------------------------------

SETTINGS = WalletsSettings(p2p_monthly_limit="50.00", full_p2p_monthly_limit="300.00")


async def test_wallets_tells_the_sender_s_allowance_with_each_outcome_and_each_change(
    wallets_units: UnitOfWorkFactory, tmp_path: object
) -> None:
    for user in ("a", "b"):
        async with wallets_units() as uow:
            user_created = UserCreated(
                user_id=user, name=user, email=f"{user}@x.co", phone="+919876543210"
            )
            await service.open_wallet(uow, user=user_created, promo_paise=10_000)
            await uow.commit()

    async def pay(paise: int) -> Any:
        async with wallets_units() as uow:
            transfer = TransactionInitiated(
                transaction_id=str(uuid.uuid4()), sender_id="a", receiver_id="b", amount_paise=paise
            )
            outcome = await service.apply_transfer(uow, transfer=transfer, settings=SETTINGS)
            await uow.commit()
        return outcome

    paid = await pay(4_000)
    assert isinstance(paid, TransferCompleted) and paid.sender_allowance is not None
    now = today(utcnow(), INDIA)
    assert paid.sender_allowance == an_allowance(
        tier="MINIMUM",
        monthly_p2p_paise=5_000,
        p2p_month=now.month,
        p2p_sent_paise=4_000,
        pay_day=now.day,
        day_paid_paise=4_000,
        day_payments=1,
    )
    refused = await pay(1_001)  # past the ₹50 month
    assert isinstance(refused, TransferRejected) and refused.limit == "monthly_p2p"
    assert refused.sender_allowance == paid.sender_allowance
    assert refused.sender_version == paid.sender_version

    # the user's own cap, lowered (no token needed), then full KYC: news at new versions
    keys = TokenKeys.from_settings(WalletsSettings(data_dir=str(tmp_path)))
    no_token = PaymentAuthorisation(token=None, user_id="a", keys=keys)
    async with wallets_units() as uow:
        await own_limits.set_own_limits(
            uow,
            user_id="a",
            request=UserLimitsRequest.model_validate({"daily_count": 3}),
            payment=no_token,
            settings=SETTINGS,
        )
    async with wallets_units() as uow:
        await service.apply_kyc(
            uow, update=UserKycUpdated(user_id="a", kyc="FULL"), settings=SETTINGS
        )
        await uow.commit()
    capped, full = await wallet_events(wallets_units, "wallet.limits_changed")
    assert paid.sender_version < capped.version < full.version
    assert (capped.allowance.daily_count_cap, capped.allowance.monthly_p2p_paise) == (3, 5_000)
    assert (full.allowance.daily_count_cap, full.allowance.monthly_p2p_paise) == (3, 30_000)
    assert (capped.allowance.tier, full.allowance.tier) == ("MINIMUM", "FULL")
    assert full.allowance.p2p_sent_paise == 4_000
    async with wallets_units() as uow:
        again = await service.apply_kyc(uow, update=UserKycUpdated(user_id="a", kyc="FULL"))
        await uow.commit()
    assert again is not None  # full already: no news
    assert len(await wallet_events(wallets_units, "wallet.limits_changed")) == 2
    async with wallets_units() as uow:
        outcomes = await uow.session.scalar(select(func.count()).select_from(WalletOutbox))
    assert outcomes == 2 + 2 + 2  # opened twice, two outcomes, two changes
