"""What happens to orders, payments, refunds and payouts, and which webhooks each step
queues; every function works inside one transaction of the caller's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from tijori.sandbox import entities
from tijori.sandbox.errors import RazorpayError, not_found
from tijori.sandbox.schemas import PayoutRequest
from tijori.sandbox.store import Store, Tx
from tijori.sandbox.switches import PayoutOutcome, Switches
from tijori.sandbox.webhooks import queue_event

log = logging.getLogger(__name__)

Entity = dict[str, Any]

DECLINED = {
    "code": "BAD_REQUEST_ERROR",
    "description": "Payment was unsuccessful as the customer declined it on the test gateway.",
    "source": "customer",
    "step": "payment_authorization",
    "reason": "payment_failed",
}

# each payout outcome: the state it starts in (and its webhook), the states it then moves
# to one after another, and the status details of each state
PAYOUT_PATHS: dict[PayoutOutcome, list[str]] = {
    PayoutOutcome.PROCESSED: ["processing", "processed"],
    PayoutOutcome.FAILED: ["processing", "failed"],
    PayoutOutcome.REVERSED: ["processing", "processed", "reversed"],
    PayoutOutcome.REJECTED: ["pending", "rejected"],
    PayoutOutcome.CANCELLED: ["queued", "cancelled"],
}
PAYOUT_EVENTS = {
    "processing": "payout.initiated",
    "pending": "payout.pending",
    "queued": "payout.queued",
    "processed": "payout.processed",
    "failed": "payout.failed",
    "reversed": "payout.reversed",
    "rejected": "payout.rejected",
    # Razorpay documents no event of its own for a cancelled payout: it changed, so
    "cancelled": "payout.updated",
}
PAYOUT_DETAILS: dict[str, tuple[str, str, str]] = {  # reason, description, source
    "processing": ("payout_initiated", "Payout is initiated with the beneficiary bank.", "gateway"),
    "pending": ("pending_approval", "Payout is waiting for approval by the business.", "business"),
    "queued": ("low_balance", "Payout is queued: the business account balance is low.", "business"),
    "processed": (
        "payout_processed",
        "Payout is processed and the money is credited to the beneficiary account.",
        "beneficiary_bank",
    ),
    "failed": (
        "beneficiary_bank_offline",
        "Payout failed as the beneficiary bank is offline. Retry after some time.",
        "beneficiary_bank",
    ),
    "reversed": (
        "beneficiary_account_closed",
        "Payout reversed: the beneficiary bank returned the money, the account is closed.",
        "beneficiary_bank",
    ),
    "rejected": (
        "beneficiary_bank_rejected",
        "Payout rejected by beneficiary bank. Please contact beneficiary bank.",
        "beneficiary_bank",
    ),
    "cancelled": ("payout_cancelled", "The queued payout was cancelled.", "business"),
}


async def fetch(tx: Tx, kind: str, entity_id: str) -> Entity:
    """The entity, or Razorpay's answer for an unknown id."""
    entity = await tx.get(kind, entity_id)
    if entity is None:
        raise not_found()
    return entity


class OrderAlreadyPaidError(Exception):
    """The order is paid, or a payment of it is authorized: no other payment may start."""


async def start_payment(
    tx: Tx, order_id: str, *, email: str | None, contact: str | None
) -> tuple[Entity, Entity]:
    """A new payment attempt on an order (``created``), and the order, ``attempted``."""
    order = await fetch(tx, "order", order_id)
    if order["status"] == "paid":
        raise OrderAlreadyPaidError(order_id)
    for earlier in await tx.children("payment", order_id):
        if earlier["status"] == "authorized":
            raise OrderAlreadyPaidError(order_id)
    payment = entities.payment(order=order, email=email, contact=contact)
    order.update(status="attempted", attempts=order["attempts"] + 1)
    await tx.put("order", order)
    await tx.put("payment", payment, parent_id=order_id)
    return payment, order


async def authorize(tx: Tx, switches: Switches, payment: Entity) -> None:
    """The customer approved a created payment: ``payment.authorized``."""
    if payment["status"] != "created":
        raise RazorpayError(f"The payment is {payment['status']}, not created", field="id")
    payment["status"] = "authorized"
    await tx.put("payment", payment)
    await queue_event(tx, switches, "payment.authorized", payment=payment)


async def capture(tx: Tx, switches: Switches, payment: Entity) -> Entity:
    """Capture an authorized payment: ``payment.captured``, and the order ``paid``."""
    if payment["status"] != "authorized":
        raise RazorpayError(
            "This payment has already been captured"
            if payment["captured"]
            else "Only payments which have been authorized and not yet captured can be captured",
            field="id",
        )
    order = await fetch(tx, "order", payment["order_id"])
    if order["status"] == "paid":
        raise RazorpayError("The order of this payment is already paid", field="id")
    payment.update(status="captured", captured=True)
    order.update(status="paid", amount_paid=order["amount"], amount_due=0)
    await tx.put("payment", payment)
    await tx.put("order", order)
    await queue_event(tx, switches, "payment.captured", payment=payment)
    await queue_event(tx, switches, "order.paid", payment=payment, order=order)
    return payment


async def settle(tx: Tx, switches: Switches, payment: Entity) -> Entity:
    """Authorize (if still created) and capture a payment, as a UPI payment completes."""
    if payment["status"] == "created":
        await authorize(tx, switches, payment)
    return await capture(tx, switches, payment)


async def fail(
    tx: Tx, switches: Switches, payment: Entity, error: dict[str, str] | None = None
) -> Entity:
    """A payment not yet captured fails: ``payment.failed``."""
    if payment["status"] not in ("created", "authorized"):
        raise RazorpayError(f"The payment is {payment['status']}: it cannot fail now", field="id")
    error = error or DECLINED
    payment.update(
        status="failed",
        error_code=error["code"],
        error_description=error["description"],
        error_source=error.get("source", "customer"),
        error_step=error.get("step", "payment_authorization"),
        error_reason=error.get("reason", "payment_failed"),
    )
    await tx.put("payment", payment)
    await queue_event(tx, switches, "payment.failed", payment=payment)
    return payment


async def refund(
    tx: Tx,
    switches: Switches,
    payment_id: str,
    *,
    amount: int | None,
    speed: str,
    notes: dict[str, Any],
    receipt: str | None,
) -> Entity:
    """Refund a captured payment, all that is left of it unless ``amount``."""
    payment = await fetch(tx, "payment", payment_id)
    if not payment["captured"]:
        raise RazorpayError("The payment has not been captured: it cannot be refunded")
    left = payment["amount"] - payment["amount_refunded"]
    amount = left if amount is None else amount
    if left == 0:
        raise RazorpayError("The payment has been fully refunded already", field="amount")
    if amount > left:
        raise RazorpayError(
            "The total refund amount is greater than the refund payment amount", field="amount"
        )
    made = entities.refund(
        payment=payment, amount=amount, receipt=receipt, notes=notes, speed=speed
    )
    refunded = payment["amount_refunded"] + amount
    full = refunded == payment["amount"]
    payment.update(
        amount_refunded=refunded,
        refund_status="full" if full else "partial",
        status="refunded" if full else payment["status"],
    )
    await tx.put("refund", made, parent_id=payment_id)
    await tx.put("payment", payment)
    await queue_event(tx, switches, "refund.created", refund=made, payment=payment)
    await queue_event(tx, switches, "refund.processed", refund=made, payment=payment)
    return made


def _fingerprint(request: PayoutRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _fund_account(tx: Tx, request: PayoutRequest) -> Entity:
    """The fund account of these bank and contact details: the one made before, if any."""
    details = request.fund_account.model_dump(mode="json")
    key = hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()
    for known in await tx.children("fund_account", key):
        return known
    made = entities.fund_account(bank_account=details["bank_account"], contact=details["contact"])
    await tx.put("fund_account", made, parent_id=key)
    return made


async def create_payout(
    tx: Tx,
    switches: Switches,
    request: PayoutRequest,
    *,
    idempotency_key: str,
    step_seconds: float,
) -> Entity:
    """A payout, or the one this idempotency key made before with the same body."""
    fingerprint = _fingerprint(request)
    known = await tx.payout_key(idempotency_key)
    if known is not None:
        first_fingerprint, payout_id = known
        if first_fingerprint != fingerprint:
            raise RazorpayError(
                "Different request body sent for the same Idempotency Header",
                field="X-Payout-Idempotency",
            )
        return await fetch(tx, "payout", payout_id)
    fund_account = await _fund_account(tx, request)
    outcome = switches.next_payout_outcome()
    path = PAYOUT_PATHS[outcome]
    payout = entities.payout(
        fund_account_id=fund_account["id"],
        amount=request.amount,
        currency=request.currency,
        mode=request.mode,
        purpose=request.purpose,
        reference_id=request.reference_id,
        narration=request.narration,
        notes=request.notes,
        status=path[0],
    )
    _describe(payout, path[0])
    await tx.put("payout", payout, reference_id=request.reference_id)
    await tx.remember_payout_key(idempotency_key, fingerprint=fingerprint, payout_id=payout["id"])
    await queue_event(tx, switches, PAYOUT_EVENTS[path[0]], payout=payout)
    started = time.time()
    for number, status in enumerate(path[1:], start=1):
        await tx.schedule(payout["id"], due_at=started + number * step_seconds, status=status)
    log.info("payout %s of %d paise: %s", payout["id"], request.amount, " -> ".join(path))
    return payout


def _describe(payout: Entity, status: str) -> None:
    reason, description, source = PAYOUT_DETAILS[status]
    payout["status"] = status
    payout["status_details"] = {"reason": reason, "description": description, "source": source}
    if status in ("failed", "reversed", "rejected", "cancelled"):
        payout["failure_reason"] = description
    if status == "processed" and payout["utr"] is None:
        payout["utr"] = entities.new_utr()


async def take_payout_steps(store: Store, switches: Switches) -> int:
    """Move every payout whose next step is due; how many steps were taken."""
    async with store.transaction() as tx:
        steps = await tx.due_steps(time.time())
        for step in steps:
            payout = await fetch(tx, "payout", step.payout_id)
            _describe(payout, step.status)
            await tx.put("payout", payout)
            await tx.forget_step(step.seq)
            await queue_event(tx, switches, PAYOUT_EVENTS[step.status], payout=payout)
            log.info("payout %s is %s", payout["id"], step.status)
    return len(steps)
