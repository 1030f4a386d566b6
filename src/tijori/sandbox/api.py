"""The Razorpay REST API the sandbox answers: orders, payments, refunds, payouts.

Every route is under ``/v1`` and needs HTTP Basic auth with the key id and secret,
as Razorpay's; the paths, field names and error answers are Razorpay's documented ones.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from tijori.sandbox import entities, operations
from tijori.sandbox.config import SandboxSettings
from tijori.sandbox.errors import RazorpayError
from tijori.sandbox.schemas import (
    IDEMPOTENCY_KEY,
    CaptureRequest,
    OrderRequest,
    PayoutRequest,
    RefundRequest,
)
from tijori.sandbox.store import Store
from tijori.sandbox.switches import Switches

Entity = dict[str, Any]


async def get_store(request: Request) -> Store:
    """The state file of this sandbox."""
    store: Store = request.app.state.store
    return store


async def get_switches(request: Request) -> Switches:
    """The test switches of this sandbox."""
    switches: Switches = request.app.state.switches
    return switches


async def get_settings(request: Request) -> SandboxSettings:
    """The sandbox's settings."""
    settings: SandboxSettings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SwitchesDep = Annotated[Switches, Depends(get_switches)]
SettingsDep = Annotated[SandboxSettings, Depends(get_settings)]


def _unauthorized(description: str) -> RazorpayError:
    return RazorpayError(description, status=401, reason="NA", source="NA", step="NA")


async def authenticated(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """HTTP Basic auth with the key id and secret, or Razorpay's 401."""
    if authorization is None or not authorization.lower().startswith("basic "):
        raise _unauthorized("Please provide your api key for authentication purposes.")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _unauthorized("Authentication failed") from None
    key_id, _, key_secret = decoded.partition(":")
    expected = f"{settings.psp_key_id}:{settings.psp_key_secret}"
    if not hmac.compare_digest(f"{key_id}:{key_secret}".encode(), expected.encode()):
        raise _unauthorized("Authentication failed")


router = APIRouter(prefix="/v1", dependencies=[Depends(authenticated)])

Count = Annotated[int, Query(ge=1, le=100)]
Skip = Annotated[int, Query(ge=0)]
Since = Annotated[int | None, Query(alias="from", ge=0)]
Until = Annotated[int | None, Query(alias="to", ge=0)]


def collection(items: list[Entity]) -> dict[str, Any]:
    """Razorpay's list answer."""
    return {"entity": "collection", "count": len(items), "items": items}


@router.post("/orders")
async def create_order(body: OrderRequest, store: StoreDep) -> Entity:
    """Create an order for an amount in paise."""
    order = entities.order(
        amount=body.amount, currency=body.currency, receipt=body.receipt, notes=body.notes
    )
    async with store.transaction() as tx:
        await tx.put("order", order)
    return order


@router.get("/orders/{order_id}")
async def fetch_order(order_id: str, store: StoreDep) -> Entity:
    """One order."""
    async with store.transaction() as tx:
        return await operations.fetch(tx, "order", order_id)


@router.get("/orders/{order_id}/payments")
async def order_payments(order_id: str, store: StoreDep) -> dict[str, Any]:
    """Every payment attempt on an order, oldest first."""
    async with store.transaction() as tx:
        await operations.fetch(tx, "order", order_id)
        return collection(await tx.children("payment", order_id))


@router.get("/payments")
async def list_payments(
    store: StoreDep, since: Since = None, until: Until = None, count: Count = 10, skip: Skip = 0
) -> dict[str, Any]:
    """Payments, newest first."""
    async with store.transaction() as tx:
        items = await tx.page("payment", count=count, skip=skip, since=since, until=until)
    return collection(items)


@router.get("/payments/{payment_id}")
async def fetch_payment(payment_id: str, store: StoreDep) -> Entity:
    """One payment."""
    async with store.transaction() as tx:
        return await operations.fetch(tx, "payment", payment_id)


@router.post("/payments/{payment_id}/capture")
async def capture_payment(
    payment_id: str, body: CaptureRequest, store: StoreDep, switches: SwitchesDep
) -> Entity:
    """Capture an authorized payment, for its whole amount."""
    async with store.transaction() as tx:
        payment = await operations.fetch(tx, "payment", payment_id)
        if body.amount != payment["amount"]:
            raise RazorpayError(
                "Capture amount must be equal to the amount authorized", field="amount"
            )
        return await operations.capture(tx, switches, payment)


@router.post("/payments/{payment_id}/refund")
async def refund_payment(
    payment_id: str, store: StoreDep, switches: SwitchesDep, body: RefundRequest | None = None
) -> Entity:
    """Refund a captured payment, all that is left of it unless ``amount``."""
    body = body or RefundRequest()
    async with store.transaction() as tx:
        return await operations.refund(
            tx,
            switches,
            payment_id,
            amount=body.amount,
            speed=body.speed,
            notes=body.notes,
            receipt=body.receipt,
        )


@router.get("/payments/{payment_id}/refunds")
async def payment_refunds(payment_id: str, store: StoreDep) -> dict[str, Any]:
    """Every refund of a payment, oldest first."""
    async with store.transaction() as tx:
        await operations.fetch(tx, "payment", payment_id)
        return collection(await tx.children("refund", payment_id))


@router.get("/refunds")
async def list_refunds(
    store: StoreDep, since: Since = None, until: Until = None, count: Count = 10, skip: Skip = 0
) -> dict[str, Any]:
    """Refunds, newest first."""
    async with store.transaction() as tx:
        items = await tx.page("refund", count=count, skip=skip, since=since, until=until)
    return collection(items)


@router.get("/refunds/{refund_id}")
async def fetch_refund(refund_id: str, store: StoreDep) -> Entity:
    """One refund."""
    async with store.transaction() as tx:
        return await operations.fetch(tx, "refund", refund_id)


@router.post("/payouts")
async def create_payout(
    body: PayoutRequest,
    store: StoreDep,
    switches: SwitchesDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="X-Payout-Idempotency")] = None,
) -> Entity:
    """A composite payout to a bank account; the same key and body make it only once."""
    if idempotency_key is None or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise RazorpayError(
            "The X-Payout-Idempotency header is required: 4 to 36 letters, digits, spaces,"
            " hyphens or underscores",
            field="X-Payout-Idempotency",
        )
    async with store.transaction() as tx:
        return await operations.create_payout(
            tx,
            switches,
            body,
            idempotency_key=idempotency_key,
            step_seconds=settings.sandbox_payout_seconds,
        )


@router.get("/payouts")
async def list_payouts(
    store: StoreDep,
    account_number: Annotated[str, Query(min_length=1)],
    reference_id: str | None = None,
    since: Since = None,
    until: Until = None,
    count: Count = 10,
    skip: Skip = 0,
) -> dict[str, Any]:
    """Payouts from the business account, newest first (only this one account here)."""
    async with store.transaction() as tx:
        items = await tx.page(
            "payout",
            count=count,
            skip=skip,
            since=since,
            until=until,
            reference_id=reference_id,
        )
    return collection(items)


@router.get("/payouts/{payout_id}")
async def fetch_payout(payout_id: str, store: StoreDep) -> Entity:
    """One payout."""
    async with store.transaction() as tx:
        return await operations.fetch(tx, "payout", payout_id)
