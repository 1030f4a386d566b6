"""Adding money: an order at the gateway, its payment, the wallet's credit or a refund.

Every path that learns of a payment (the webhook, the checkout's return, asking the
gateway) goes through :func:`capture`, which moves a top-up on at most once; wallets
then credits it or refuses it, and a refused one is refunded at the gateway.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import UnprocessableError
from tijori.common.events import Party, TopupCaptured, TopupCompleted, TopupCredited, TopupRejected
from tijori.common.metrics import TOPUPS, count_after_commit
from tijori.common.money import format_rupees
from tijori.common.outbox import add_to_outbox
from tijori.payments.desk import GatewayUnavailableProblem, PaymentsDesk
from tijori.payments.models import OutboxMessage, Topup
from tijori.payments.razorpay import GatewayRefusedError, GatewayUnavailableError, Payment
from tijori.payments.repository import PaymentsRepository

log = logging.getLogger(__name__)

# what a payment at the gateway is when its money was taken
TAKEN = frozenset({"captured", "refunded"})
# when an abandoned order is asked about again: not at all, in effect
NEVER_AGAIN = 10 * 365 * 86_400.0


def _counted(uow: UnitOfWork, status: str) -> None:
    count_after_commit(uow, TOPUPS.labels(status=status))


async def start_topup(desk: PaymentsDesk, *, user_id: str, amount_paise: int) -> Topup:
    """Create the order at the gateway, then the CREATED top-up that waits for its
    payment. A gateway that does not answer makes nothing (503)."""
    settings = desk.settings
    if amount_paise < settings.min_topup:
        raise UnprocessableError(
            f"a top-up is at least {format_rupees(settings.min_topup)}", code="invalid_amount"
        )
    if amount_paise > settings.max_topup:
        raise UnprocessableError(
            f"a top-up is at most {format_rupees(settings.max_topup)}",
            code="limit_exceeded",
            limit="topup_max",
        )
    topup_id = str(uuid.uuid4())
    try:
        order = await desk.gateway.create_order(
            amount_paise=amount_paise,
            receipt=topup_id,
            notes={"topup_id": topup_id, "user_id": user_id},
        )
    except (GatewayUnavailableError, GatewayRefusedError) as error:
        log.warning("the gateway did not create an order for top-up %s: %s", topup_id, error)
        raise GatewayUnavailableProblem(
            "the payment gateway is not answering; nothing was charged, try again"
        ) from error
    now = utcnow()
    topup = Topup(
        id=topup_id,
        user_id=user_id,
        amount_paise=amount_paise,
        status="CREATED",
        order_id=order.id,
        refund_due=False,
        check_at=now + timedelta(seconds=settings.topup_check_after_seconds),
        created_at=now,
        updated_at=now,
    )
    async with desk.units() as uow:
        PaymentsRepository(uow).add_topup(topup)
        _counted(uow, "CREATED")
        await uow.commit()
    log.info("top-up %s created: order %s, %d paise", topup_id, order.id, amount_paise)
    return topup


def capture(
    uow: UnitOfWork, topup: Topup, *, payment_id: str, amount_paise: int, order_id: str
) -> str:
    """Move a locked top-up to CAPTURED for a captured payment of its order and amount,
    and tell wallets; what happened: ``captured``, ``duplicate`` or why it was ignored."""
    if order_id != topup.order_id:
        log.error("payment %s is for order %s, not top-up %s's", payment_id, order_id, topup.id)
        return "order_mismatch"
    if amount_paise != topup.amount_paise:
        log.error(
            "payment %s of %d paise for top-up %s of %d: not credited",
            payment_id,
            amount_paise,
            topup.id,
            topup.amount_paise,
        )
        return "amount_mismatch"
    if topup.payment_id not in (None, payment_id):
        log.error(
            "top-up %s was paid by %s, and again by %s", topup.id, topup.payment_id, payment_id
        )
        return "second_payment"
    if not PaymentsRepository(uow).advance_topup(
        topup, "CAPTURED", payment_id=payment_id, reason=None
    ):
        return "duplicate"
    add_to_outbox(
        uow,
        OutboxMessage,
        TopupCaptured(
            topup_id=topup.id,
            user_id=topup.user_id,
            payment_id=payment_id,
            amount_paise=amount_paise,
        ),
        key=topup.user_id,
    )
    _counted(uow, "CAPTURED")
    return "captured"


def fail(uow: UnitOfWork, topup: Topup, *, reason: str) -> str:
    """Mark a locked CREATED top-up FAILED (its payment failed or was never made)."""
    if not PaymentsRepository(uow).advance_topup(topup, "FAILED", reason=reason[:40]):
        return "duplicate"
    _counted(uow, "FAILED")
    return "failed"


async def _complete(
    uow: UnitOfWork,
    topup: Topup,
    *,
    status: str,
    reason: str | None = None,
    limit: str | None = None,
) -> None:
    """Stage ``topup.completed`` for the user's e-mail, if their sign-up has arrived."""
    customer = await PaymentsRepository(uow).customer(topup.user_id)
    if customer is None:
        log.warning("no e-mail for top-up %s: user %s is not known yet", topup.id, topup.user_id)
        return
    add_to_outbox(
        uow,
        OutboxMessage,
        TopupCompleted(
            topup_id=topup.id,
            status=status,
            reason=reason,
            amount_paise=topup.amount_paise,
            user=Party(user_id=customer.user_id, name=customer.name, email=customer.email),
            limit=limit,
        ),
        key=topup.user_id,
    )


async def on_credited(uow: UnitOfWork, credited: TopupCredited) -> None:
    """Wallets credited the top-up: CREDITED."""
    repository = PaymentsRepository(uow)
    topup = await repository.topup(credited.topup_id, lock=True)
    if topup is None or not repository.advance_topup(topup, "CREDITED"):
        return
    _counted(uow, "CREDITED")
    await _complete(uow, topup, status="CREDITED")


async def on_rejected(uow: UnitOfWork, rejected: TopupRejected, desk: PaymentsDesk) -> None:
    """Wallets could not take the money: refund it at the gateway, from the check loop.
    Over a limit the reason is ``limit_exceeded`` and the limit is kept beside it, as a
    withdrawal's is (docs/limits.md)."""
    repository = PaymentsRepository(uow)
    topup = await repository.topup(rejected.topup_id, lock=True)
    if topup is None or topup.status != "CAPTURED" or topup.refund_due:
        return
    repository.schedule(
        topup, utcnow(), refund_due=True, reason=rejected.reason, limit_name=rejected.limit
    )
    uow.after_commit(desk.wake_checks, once=True)


async def check(desk: PaymentsDesk, candidate: Topup) -> None:
    """Ask the gateway about a top-up no webhook settled: an order's payments (capture,
    or fail an abandoned one), or a refund that is due (made at most once: an existing
    refund of the payment is found first)."""
    settings = desk.settings
    now = utcnow()
    try:
        if candidate.refund_due and candidate.payment_id is not None:
            refunds = await desk.gateway.payment_refunds(candidate.payment_id)
            refund = (
                refunds[0]
                if refunds
                else await desk.gateway.refund(
                    candidate.payment_id,
                    amount_paise=candidate.amount_paise,
                    receipt=candidate.id,
                    notes={
                        "topup_id": candidate.id,
                        "reason": candidate.reason or "",
                        "limit": candidate.limit_name or "",
                    },
                )
            )
            payments: list[Payment] = []
        else:
            refund = None
            payments = await desk.gateway.order_payments(candidate.order_id)
    except (GatewayUnavailableError, GatewayRefusedError) as error:
        log.warning("could not ask the gateway about top-up %s: %s", candidate.id, error)
        async with desk.units() as uow:
            repository = PaymentsRepository(uow)
            topup = await repository.topup(candidate.id, lock=True)
            if topup is not None:
                repository.schedule(
                    topup, now + timedelta(seconds=settings.topup_check_after_seconds)
                )
                await uow.commit()
        return
    async with desk.units() as uow:
        repository = PaymentsRepository(uow)
        topup = await repository.topup(candidate.id, lock=True)
        if topup is None:
            return
        if refund is not None:
            if repository.advance_topup(topup, "REFUNDED", refund_id=refund.id, refund_due=False):
                _counted(uow, "REFUNDED")
                await _complete(
                    uow, topup, status="REFUNDED", reason=topup.reason, limit=topup.limit_name
                )
        else:
            taken = [
                payment
                for payment in payments
                if payment.status in TAKEN and payment.order_id == topup.order_id
            ]
            if taken:
                payment = taken[0]
                capture(
                    uow,
                    topup,
                    payment_id=payment.id,
                    amount_paise=payment.amount_paise,
                    order_id=topup.order_id,
                )
            if topup.status in ("CREATED", "FAILED"):
                # a failed payment may be followed by a second attempt that succeeds: an
                # order is asked about until it is abandoned, then no more
                abandoned = now - topup.created_at > timedelta(
                    seconds=settings.topup_abandon_after_seconds
                )
                if abandoned:
                    fail(uow, topup, reason="abandoned")
                wait = NEVER_AGAIN if abandoned else settings.topup_check_after_seconds
                repository.schedule(topup, now + timedelta(seconds=wait))
        await uow.commit()
