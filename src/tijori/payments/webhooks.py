"""The gateway's webhooks: checked against the raw body's signature, applied once by
event id, in the same database transaction as their effect.

A webhook may come twice, late or out of order (PRODUCT.md): the event id makes a second
delivery a no-op, and a top-up or withdrawal only moves forward, so ``payment.failed``
after ``payment.captured`` changes nothing. A signed event Tijori cannot use (an unknown
order, another amount) is answered 200 and ignored, so the gateway stops sending it;
``tijori reconcile`` shows what it left out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tijori.common.db import UnitOfWork
from tijori.common.errors import ProblemError
from tijori.common.metrics import WEBHOOKS
from tijori.payments import topups, withdrawals
from tijori.payments.razorpay import GatewayUnavailableError, payout_of
from tijori.payments.repository import PaymentsRepository

log = logging.getLogger(__name__)

PAYMENT_EVENTS = frozenset({"payment.captured", "order.paid", "payment.failed"})
PAYOUT_EVENTS = frozenset(f"payout.{status}" for status in withdrawals.PAYOUT_STATUSES) | {
    "payout.updated"
}


class InvalidSignatureError(ProblemError):
    """A webhook whose signature is missing or is not the body's."""

    status, code = 400, "invalid_signature"


class InvalidWebhookError(ProblemError):
    """A signed webhook that is not the gateway's JSON, or has no event id."""

    status, code = 400, "invalid_webhook"


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow")


class PaymentEntity(_Entity):
    """The fields of a payment this service reads."""

    id: str
    order_id: str | None = None
    amount: int
    status: str
    error_code: str | None = None


def parse(body: bytes) -> tuple[str, dict[str, Any]]:
    """The event name and payload of a webhook body, or ``InvalidWebhookError``."""
    try:
        document = json.loads(body)
        event = document["event"]
        payload = document.get("payload") or {}
        if not isinstance(event, str) or not isinstance(payload, dict):
            raise TypeError("event is not a string or payload not an object")
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidWebhookError("the webhook body is not a gateway event") from error
    return event, payload


def _entity(payload: dict[str, Any], name: str, model: type[_Entity]) -> Any:
    try:
        return model.model_validate(payload[name]["entity"])
    except (KeyError, TypeError, ValidationError) as error:
        raise InvalidWebhookError(f"the event has no valid {name} entity") from error


async def apply(uow: UnitOfWork, *, event_id: str, event: str, payload: dict[str, Any]) -> str:
    """Apply one verified webhook in ``uow`` (the caller commits); what happened."""
    repository = PaymentsRepository(uow)
    if event in PAYMENT_EVENTS:
        payment: PaymentEntity = _entity(payload, "payment", PaymentEntity)
        if payment.order_id is None:
            return "ignored"
        topup = await repository.topup_of_order(payment.order_id, lock=True)
        if topup is None:
            log.warning("webhook %s: %s for unknown order %s", event_id, event, payment.order_id)
            return "unknown_order"
        if event == "payment.failed":
            return topups.fail(uow, topup, reason=payment.error_code or "payment_failed")
        if payment.status != "captured":
            return "ignored"
        return topups.capture(
            uow,
            topup,
            payment_id=payment.id,
            amount_paise=payment.amount,
            order_id=payment.order_id,
        )
    if event in PAYOUT_EVENTS:
        try:
            payout = payout_of(payload["payout"]["entity"])
        except (KeyError, TypeError, GatewayUnavailableError) as error:
            raise InvalidWebhookError("the event has no valid payout entity") from error
        withdrawal = (
            await repository.withdrawal(payout.reference_id, lock=True)
            if payout.reference_id and len(payout.reference_id) <= 36
            else None
        )
        if withdrawal is None:
            log.warning("webhook %s: %s for unknown payout %s", event_id, event, payout.id)
            return "unknown_payout"
        return withdrawals.apply_payout(uow, withdrawal, payout)
    return "ignored"


def count(event: str, result: str) -> None:
    """Count a webhook by its event and what it did."""
    known = event if event in PAYMENT_EVENTS | PAYOUT_EVENTS else "other"
    WEBHOOKS.labels(event=known, result=result).inc()
