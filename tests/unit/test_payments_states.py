"""A top-up or withdrawal only moves forward, whatever order the gateway's news comes in:
each move is made once and tells the other services once (an outbox event)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from tests.unit.conftest import _units_of
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import (
    HoldUpdated,
    Party,
    TopupCompleted,
    TopupRejected,
    WithdrawalCompleted,
)
from tijori.notifications.messages import topup_completed, withdrawal_completed
from tijori.payments import topups, withdrawals
from tijori.payments.api import present_topup, present_withdrawal
from tijori.payments.models import OutboxMessage, Topup, Withdrawal
from tijori.payments.razorpay import Payout, Refund
from tijori.payments.repository import PaymentsRepository


@pytest.fixture
async def units(sqlite_url: Callable[[str], str]) -> AsyncIterator[UnitOfWorkFactory]:
    async with _units_of(sqlite_url("payments")) as made:
        now = utcnow()
        async with made() as uow:
            uow.session.add(
                Topup(id="t1", user_id="u1", amount_paise=50_000, status="CREATED",
                      order_id="order_1", refund_due=False, check_at=now)
            )  # fmt: skip
            uow.session.add(
                Withdrawal(id="w1", user_id="u1", amount_paise=20_000, status="HELD",
                           account_name="Asha", account_number="50100123456789",
                           ifsc="HDFC0001234", idempotency_key="k", request_hash="h",
                           payment_token_id="jti", attempts=0, check_at=now)
            )  # fmt: skip
            await uow.commit()
        yield made


async def _events(units: UnitOfWorkFactory) -> list[str]:
    async with units() as uow:
        return list((await uow.session.scalars(select(OutboxMessage.topic))).all())


async def _topup(units: UnitOfWorkFactory, apply: Callable[..., str]) -> str:
    async with units() as uow:
        topup = await PaymentsRepository(uow).topup("t1", lock=True)
        assert topup is not None
        result = apply(uow, topup)
        await uow.commit()
    return result


async def test_a_capture_is_made_once_and_a_late_failure_undoes_nothing(
    units: UnitOfWorkFactory,
) -> None:
    def capture(uow: object, topup: Topup, amount: int = 50_000, order: str = "order_1") -> str:
        return topups.capture(uow, topup, payment_id="pay_1", amount_paise=amount, order_id=order)  # type: ignore[arg-type]

    assert await _topup(units, lambda uow, t: capture(uow, t, amount=49_999)) == "amount_mismatch"
    assert await _topup(units, lambda uow, t: capture(uow, t, order="order_2")) == "order_mismatch"
    assert await _topup(units, capture) == "captured"
    assert await _topup(units, capture) == "duplicate"
    assert await _topup(units, lambda uow, t: topups.fail(uow, t, reason="late")) == "duplicate"
    assert await _events(units) == ["topup.captured"]


async def test_a_failed_top_up_still_moves_on_when_a_later_attempt_is_captured(
    units: UnitOfWorkFactory,
) -> None:
    assert await _topup(units, lambda uow, t: topups.fail(uow, t, reason="declined")) == "failed"
    captured = await _topup(
        units,
        lambda uow, t: topups.capture(
            uow, t, payment_id="pay_2", amount_paise=50_000, order_id="order_1"
        ),
    )
    assert captured == "captured"


async def _payout(units: UnitOfWorkFactory, status: str, amount: int = 20_000) -> str:
    payout = Payout(id="pout_1", amount_paise=amount, status=status, reference_id="w1",
                    failure_reason=None, utr=None, created_at=0)  # fmt: skip
    async with units() as uow:
        withdrawal = await PaymentsRepository(uow).withdrawal("w1", lock=True)
        assert withdrawal is not None
        result = withdrawals.apply_payout(uow, withdrawal, payout)
        await uow.commit()
    return result


async def test_a_payout_s_news_in_any_order_settles_the_withdrawal_once(
    units: UnitOfWorkFactory,
) -> None:
    assert await _payout(units, "processed", amount=1) == "amount_mismatch"
    assert await _payout(units, "processing") == "processing"
    assert await _payout(units, "processed") == "processed"
    assert await _payout(units, "processing") == "duplicate"  # late news: never backwards
    assert await _payout(units, "failed") == "duplicate"  # a processed payout does not fail
    assert await _payout(units, "processed") == "duplicate"
    assert await _payout(units, "reversed") == "reversed"
    assert await _events(units) == ["withdrawal.settled", "withdrawal.settled"]


async def test_a_hold_refused_over_a_daily_cap_fails_the_withdrawal_naming_the_cap(
    units: UnitOfWorkFactory,
) -> None:
    refused = HoldUpdated(
        hold_id="w1",
        user_id="u1",
        amount_paise=20_000,
        status="REFUSED",
        reason="limit_exceeded",
        limit="daily_amount",
    )
    async with units() as uow:
        # a refusal asks nothing of the desk (no payout, no gateway)
        await withdrawals.on_hold_updated(uow, refused, cast(Any, None))
        await uow.commit()
    async with units() as uow:
        withdrawal = await PaymentsRepository(uow).withdrawal("w1")
    assert withdrawal is not None
    assert (withdrawal.status, withdrawal.reason, withdrawal.limit_name) == (
        "FAILED",
        "limit_exceeded",
        "daily_amount",
    )
    shown = present_withdrawal(withdrawal)
    assert (shown.reason, shown.limit) == ("limit_exceeded", "daily_amount")
    mail = withdrawal_completed(
        WithdrawalCompleted(
            withdrawal_id="w1",
            status="FAILED",
            reason="limit_exceeded",
            amount_paise=20_000,
            account_last4="6789",
            user=Party(user_id="u1", name="Asha", email="asha@x.co"),
            limit="daily_amount",
        )
    )
    assert "it would pass your daily limit on the value of your payments" in mail.body


@dataclass
class RefundingGateway:
    """A gateway that has no refund of the payment yet, and records the one asked for."""

    notes: list[dict[str, str]] = field(default_factory=list)

    async def payment_refunds(self, payment_id: str) -> list[Refund]:
        return []

    async def refund(
        self, payment_id: str, *, amount_paise: int, receipt: str, notes: dict[str, str]
    ) -> Refund:
        self.notes.append(notes)
        return Refund(id="rfnd_1", payment_id=payment_id, amount_paise=amount_paise,
                      status="processed", receipt=receipt, created_at=0)  # fmt: skip


async def test_a_top_up_refused_over_a_limit_is_refunded_with_limit_exceeded_naming_it(
    units: UnitOfWorkFactory,
) -> None:
    async with units() as uow:
        await PaymentsRepository(uow).remember_customer(
            user_id="u1", name="Asha", email="asha@x.co"
        )
        await uow.commit()
    captured = await _topup(
        units,
        lambda uow, t: topups.capture(
            uow, t, payment_id="pay_1", amount_paise=50_000, order_id="order_1"
        ),
    )
    assert captured == "captured"
    gateway = RefundingGateway()
    desk = cast(
        Any,
        SimpleNamespace(
            units=units,
            gateway=gateway,
            settings=SimpleNamespace(topup_check_after_seconds=5),
            wake_checks=lambda: None,
        ),
    )
    rejected = TopupRejected(
        topup_id="t1",
        user_id="u1",
        amount_paise=50_000,
        reason="limit_exceeded",
        limit="balance_cap",
    )
    async with units() as uow:
        await topups.on_rejected(uow, rejected, desk)
        await uow.commit()
    async with units() as uow:
        due = await PaymentsRepository(uow).topup("t1")
    assert due is not None and due.refund_due
    await topups.check(desk, due)

    async with units() as uow:
        topup = await PaymentsRepository(uow).topup("t1")
        completed = (
            await uow.session.scalars(
                select(OutboxMessage.body).where(OutboxMessage.topic == "topup.completed")
            )
        ).all()
    assert topup is not None
    assert (topup.status, topup.reason, topup.limit_name) == (
        "REFUNDED",
        "limit_exceeded",
        "balance_cap",
    )
    # the gateway's refund still says why
    assert gateway.notes == [{"topup_id": "t1", "reason": "limit_exceeded", "limit": "balance_cap"}]
    shown = present_topup(topup, desk)
    assert (shown.reason, shown.limit) == ("limit_exceeded", "balance_cap")
    assert shown.model_dump(mode="json")["limit"] == "balance_cap"
    [body] = completed
    event = TopupCompleted.model_validate(json.loads(body)["payload"])
    assert (event.status, event.reason, event.limit) == (
        "REFUNDED",
        "limit_exceeded",
        "balance_cap",
    )
    mail = topup_completed(event)
    assert "it would take your wallet above its balance limit" in mail.body


def test_a_refund_e_mail_names_each_limit_in_words_even_from_an_older_payments() -> None:
    def body(reason: str, limit: str | None) -> str:
        return topup_completed(
            TopupCompleted(
                topup_id="t1",
                status="REFUNDED",
                reason=reason,
                amount_paise=50_000,
                user=Party(user_id="u1", name="Asha", email="asha@x.co"),
                limit=limit,
            )
        ).body

    assert "this month's limit on money added" in body("limit_exceeded", "monthly_load")
    assert "this financial year's limit on money added" in body("limit_exceeded", "yearly_load")
    assert "not upgraded to full KYC in time" in body("limit_exceeded", "kyc_upgrade_deadline")
    assert "a limit of your wallet" in body("limit_exceeded", "something_new")
    # a topup.completed staged before payments' migration 0003 gave the limit as reason
    assert "above its balance limit" in body("balance_cap", None)
    assert "your wallet is frozen" in body("wallet_frozen", None)
