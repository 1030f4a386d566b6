"""A top-up or withdrawal only moves forward, whatever order the gateway's news comes in:
each move is made once and tells the other services once (an outbox event)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from sqlalchemy import select

from tests.unit.conftest import _units_of
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import HoldUpdated, Party, WithdrawalCompleted
from tijori.notifications.messages import withdrawal_completed
from tijori.payments import topups, withdrawals
from tijori.payments.api import present_withdrawal
from tijori.payments.models import OutboxMessage, Topup, Withdrawal
from tijori.payments.razorpay import Payout
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
