"""The control API for tests, under ``/_sandbox/``: switches, and payments settled later.

No auth: the sandbox listens on 127.0.0.1 unless told otherwise (docs/sandbox.md).
Every switch lives in memory and is off again after a restart; the state is kept.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from tijori.sandbox import operations
from tijori.sandbox.api import StoreDep, SwitchesDep
from tijori.sandbox.store import Delivery
from tijori.sandbox.switches import PayoutOutcome, Switches, WebhookBehaviour

router = APIRouter(prefix="/_sandbox", tags=["control"])

DeliveryStatus = Literal["pending", "held", "delivered", "dropped", "failed"]


class SandboxState(BaseModel):
    """Every switch as it is now."""

    webhooks: WebhookBehaviour
    down: bool
    down_seconds_left: float | None = Field(description="null while up, or down until reset")
    payout_outcomes: list[PayoutOutcome]


class DownRequest(BaseModel):
    """Answer the API with 503 and hold webhooks back, for this long (null: until up)."""

    model_config = ConfigDict(extra="forbid")

    seconds: float | None = Field(None, gt=0, le=86400)


class PayoutOutcomes(BaseModel):
    """How the next payouts end, one each, in this order (then ``processed`` again)."""

    model_config = ConfigDict(extra="forbid")

    outcomes: list[PayoutOutcome] = Field(min_length=1, max_length=100)


class PaymentFailure(BaseModel):
    """The error a payment failed later fails with."""

    model_config = ConfigDict(extra="forbid")

    code: str = operations.DECLINED["code"]
    description: str = operations.DECLINED["description"]
    reason: str = operations.DECLINED["reason"]


class DeliveryView(BaseModel):
    """One webhook delivery and how it went."""

    seq: int
    event_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    delivered_at: float | None
    body: dict[str, Any]

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryView:
        """The view of a stored delivery."""
        return cls(
            seq=delivery.seq,
            event_id=delivery.event_id,
            event=delivery.event,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            body=json.loads(delivery.body),
        )


class Deliveries(BaseModel):
    """Webhook deliveries in the order they are (or were) due, and how many of each status."""

    items: list[DeliveryView]
    counts: dict[str, int]
    settled: bool = Field(description="nothing pending or held: a test may stop waiting")


def state_of(switches: Switches) -> SandboxState:
    """The switches as the control API shows them."""
    left = None
    if switches.is_down():
        assert switches.down_until is not None
        left = None if switches.down_until == float("inf") else switches.down_until - time.time()
    return SandboxState(
        webhooks=switches.webhooks,
        down=switches.is_down(),
        down_seconds_left=left,
        payout_outcomes=list(switches.payout_outcomes),
    )


@router.get("/state")
async def get_state(switches: SwitchesDep) -> SandboxState:
    """Every switch."""
    return state_of(switches)


@router.post("/reset")
async def reset(switches: SwitchesDep, store: StoreDep) -> SandboxState:
    """Every switch off (held webhooks are released); orders, payments and payouts stay."""
    switches.reset()
    async with store.transaction() as tx:
        await tx.release_held(time.time())
    return state_of(switches)


@router.put("/webhooks/behaviour")
async def set_webhook_behaviour(behaviour: WebhookBehaviour, switches: SwitchesDep) -> SandboxState:
    """How the events from now on are delivered (fields left out are off)."""
    switches.webhooks = behaviour
    return state_of(switches)


@router.delete("/webhooks/behaviour")
async def normal_webhooks(switches: SwitchesDep, store: StoreDep) -> SandboxState:
    """Events delivered once, at once, in order again; held ones are released."""
    switches.webhooks = WebhookBehaviour()
    async with store.transaction() as tx:
        await tx.release_held(time.time())
    return state_of(switches)


@router.post("/webhooks/release")
async def release_held(store: StoreDep) -> dict[str, int]:
    """Deliver the events the ``reorder`` switch holds now, newest first."""
    async with store.transaction() as tx:
        released = await tx.release_held(time.time())
    return {"released": released}


@router.get("/webhooks")
async def list_deliveries(
    store: StoreDep,
    status: DeliveryStatus | None = None,
    event: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Deliveries:
    """Webhook deliveries, with their status and attempts."""
    async with store.transaction() as tx:
        every = await tx.deliveries(limit=100_000)
    counts = Counter(delivery.status for delivery in every)
    chosen = [
        DeliveryView.of(delivery)
        for delivery in every
        if status in (None, delivery.status) and event in (None, delivery.event)
    ][:limit]
    settled = not counts.get("pending") and not counts.get("held")
    return Deliveries(items=chosen, counts=dict(counts), settled=settled)


@router.put("/down")
async def go_down(request: DownRequest, switches: SwitchesDep) -> SandboxState:
    """The API answers 503 and webhooks wait, for ``seconds`` or until ``DELETE``."""
    seconds = float("inf") if request.seconds is None else request.seconds
    switches.down_until = time.time() + seconds
    return state_of(switches)


@router.delete("/down")
async def come_up(switches: SwitchesDep) -> SandboxState:
    """The API answers again."""
    switches.down_until = None
    return state_of(switches)


@router.post("/payouts/outcomes")
async def queue_payout_outcomes(request: PayoutOutcomes, switches: SwitchesDep) -> SandboxState:
    """How the next payouts end (added after those already queued)."""
    switches.payout_outcomes.extend(request.outcomes)
    return state_of(switches)


@router.delete("/payouts/outcomes")
async def clear_payout_outcomes(switches: SwitchesDep) -> SandboxState:
    """Payouts are processed again."""
    switches.payout_outcomes.clear()
    return state_of(switches)


@router.post("/payments/{payment_id}/authorize")
async def authorize_payment(
    payment_id: str, store: StoreDep, switches: SwitchesDep
) -> dict[str, Any]:
    """A pending (created) payment is authorized but not captured: ``payment.authorized``."""
    async with store.transaction() as tx:
        payment = await operations.fetch(tx, "payment", payment_id)
        await operations.authorize(tx, switches, payment)
    return payment


@router.post("/payments/{payment_id}/capture")
async def capture_payment(
    payment_id: str, store: StoreDep, switches: SwitchesDep
) -> dict[str, Any]:
    """A pending payment completes: authorized if need be, captured, its order paid."""
    async with store.transaction() as tx:
        payment = await operations.fetch(tx, "payment", payment_id)
        return await operations.settle(tx, switches, payment)


@router.post("/payments/{payment_id}/fail")
async def fail_payment(
    payment_id: str,
    store: StoreDep,
    switches: SwitchesDep,
    failure: PaymentFailure | None = None,
) -> dict[str, Any]:
    """A pending payment fails: ``payment.failed``."""
    failure = failure or PaymentFailure()
    async with store.transaction() as tx:
        payment = await operations.fetch(tx, "payment", payment_id)
        return await operations.fail(tx, switches, payment, failure.model_dump())
