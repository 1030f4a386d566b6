"""The payments service's Razorpay client: the same calls against the sandbox as against
Razorpay, and every failure sorted into "may have happened" or "refused"."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.unit.conftest import metric_value
from tests.unit.sandbox import (
    CALLBACK,
    KEY_ID,
    KEY_SECRET,
    SANDBOX_URL,
    Merchant,
    running_app,
    settings_for,
)
from tijori.payments.razorpay import (
    BankAccount,
    GatewayRefusedError,
    GatewayUnavailableError,
    RazorpayClient,
    checkout_signature_valid,
    webhook_signature,
    webhook_signature_valid,
)

PAYOUT_ACCOUNT = "7878780080316316"
ACCOUNT = BankAccount(name="Asha Rao", ifsc="HDFC0001234", account_number="1121431121541121")

# computed with `openssl dgst -sha256 -hmac SECRET`, not with the code under test
CHECKOUT_VECTOR = (
    "order_IluGWxBm9U8zJ8",
    "pay_IH4NVgf4Dreq1l",
    "EnLs21M47BllR3X8PSFtjtbd",
    "c7a6b6e37e5fb8b5387cd93cff2f9cedbf5cb78112fd50292c56b4cecb49b80d",
)
WEBHOOK_VECTOR = (
    b'{"entity":"event","event":"payment.captured"}',
    "webhook-secret-1",
    "e3c7986179a6801ffcab06863bb3ed58ea56dce140e8deb20f7073b0cb6c7047",
)


@pytest.fixture
async def sandbox_app(tmp_path: Path) -> AsyncIterator[httpx.ASGITransport]:
    async with running_app(settings_for(tmp_path), Merchant()) as app:
        yield httpx.ASGITransport(app=app)


@pytest.fixture
async def client(sandbox_app: httpx.ASGITransport) -> AsyncIterator[RazorpayClient]:
    razorpay = RazorpayClient(
        base_url=SANDBOX_URL,
        key_id=KEY_ID,
        key_secret=KEY_SECRET,
        payout_account_number=PAYOUT_ACCOUNT,
        transport=sandbox_app,
    )
    yield razorpay
    await razorpay.aclose()


async def pay_through_checkout(transport: httpx.ASGITransport, checkout_url: str) -> dict[str, str]:
    """Open the checkout page and press Pay, as the customer does; what the callback gets."""
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX_URL) as browser:
        page = await browser.get(checkout_url)
        assert page.status_code == 200 and "TEST GATEWAY" in page.text
        query = parse_qs(urlsplit(checkout_url).query)
        form = {key: values[0] for key, values in query.items()}
        answer = await browser.post("/v1/checkout/embedded/pay", data=form)
    assert answer.status_code == 303
    returned = parse_qs(urlsplit(answer.headers["location"]).query)
    return {key: values[0] for key, values in returned.items()}


async def test_an_order_paid_at_the_checkout_is_seen_captured_with_a_valid_signature(
    client: RazorpayClient, sandbox_app: httpx.ASGITransport
) -> None:
    order = await client.create_order(amount_paise=25_050, receipt="topup-1", notes={"u": "1"})
    assert (order.amount_paise, order.status, order.receipt) == (25_050, "created", "topup-1")
    url = client.checkout_url(
        order_id=order.id, callback_url=CALLBACK, name="Tijori", description="Add money"
    )
    assert url.startswith(f"{SANDBOX_URL}/v1/checkout/embedded?key_id={KEY_ID}&")
    returned = await pay_through_checkout(sandbox_app, url)
    assert checkout_signature_valid(
        order_id=order.id,
        payment_id=returned["razorpay_payment_id"],
        signature=returned["razorpay_signature"],
        key_secret=KEY_SECRET,
    )
    assert not checkout_signature_valid(
        order_id="order_AAAAAAAAAAAAAA",
        payment_id=returned["razorpay_payment_id"],
        signature=returned["razorpay_signature"],
        key_secret=KEY_SECRET,
    )
    fetched = await client.fetch_order(order.id)
    assert (fetched.status, fetched.amount_paid_paise) == ("paid", 25_050)
    [payment] = await client.order_payments(order.id)
    assert payment == await client.fetch_payment(returned["razorpay_payment_id"])
    assert (payment.status, payment.captured, payment.order_id) == ("captured", True, order.id)
    assert [seen.id async for seen in client.payments(since=payment.created_at)] == [payment.id]


async def test_refunds_are_listed_and_an_over_refund_is_refused(
    client: RazorpayClient, sandbox_app: httpx.ASGITransport
) -> None:
    order = await client.create_order(amount_paise=10_000, receipt="topup-2", notes={})
    url = client.checkout_url(order_id=order.id, callback_url=CALLBACK, name="T", description="")
    payment_id = (await pay_through_checkout(sandbox_app, url))["razorpay_payment_id"]
    refund = await client.refund(payment_id, amount_paise=4_000, receipt="rf-1", notes={})
    assert (refund.amount_paise, refund.payment_id, refund.receipt) == (4_000, payment_id, "rf-1")
    assert refund.status == "processed"
    with pytest.raises(GatewayRefusedError) as refused:
        await client.refund(payment_id, amount_paise=6_001, receipt="rf-2", notes={})
    assert (refused.value.status, refused.value.code) == (400, "BAD_REQUEST_ERROR")
    assert refused.value.field == "amount" and refused.value.description
    assert await client.payment_refunds(payment_id) == [refund]
    assert [seen async for seen in client.refunds()] == [refund]
    payment = await client.fetch_payment(payment_id)
    assert payment.amount_refunded_paise == 4_000


async def test_a_payout_retried_with_its_key_is_made_once_and_found_by_reference(
    client: RazorpayClient,
) -> None:
    arguments = {
        "amount_paise": 50_000,
        "account": ACCOUNT,
        "reference_id": "withdrawal-7",
        "narration": "Tijori withdrawal",
        "notes": {"user": "u1"},
    }
    first = await client.create_payout(idempotency_key="wd-7-key", **arguments)
    again = await client.create_payout(idempotency_key="wd-7-key", **arguments)
    assert again.id == first.id and first.status == "processing"
    assert (first.amount_paise, first.reference_id) == (50_000, "withdrawal-7")
    assert await client.payouts_by_reference("withdrawal-7") == [first]
    assert await client.payouts_by_reference("withdrawal-8") == []
    assert [seen.id async for seen in client.payouts()] == [first.id]
    with pytest.raises(GatewayRefusedError) as refused:
        await client.create_payout(
            idempotency_key="wd-9-key",
            amount_paise=100,
            account=BankAccount(name="Asha Rao", ifsc="HDFC1001234", account_number="112143112"),
            reference_id="withdrawal-9",
            narration="x",
            notes={},
        )
    assert refused.value.field == "fund_account.bank_account.ifsc"


async def test_a_sandbox_switched_down_is_unavailable_not_refused(
    client: RazorpayClient, sandbox_app: httpx.ASGITransport
) -> None:
    async with httpx.AsyncClient(transport=sandbox_app, base_url=SANDBOX_URL) as control:
        await control.put("/_sandbox/down", json={})
    with pytest.raises(GatewayUnavailableError):
        await client.fetch_order("order_AAAAAAAAAAAAAA")
    with pytest.raises(GatewayRefusedError) as refused:
        async with httpx.AsyncClient(transport=sandbox_app, base_url=SANDBOX_URL) as control:
            await control.delete("/_sandbox/down")
        await client.fetch_order("order_AAAAAAAAAAAAAA")
    assert refused.value.description == "The id provided does not exist"


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> RazorpayClient:
    return RazorpayClient(
        base_url="https://gateway.test",
        key_id=KEY_ID,
        key_secret=KEY_SECRET,
        payout_account_number=PAYOUT_ACCOUNT,
        transport=httpx.MockTransport(handler),
    )


def raising(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        lambda request: httpx.Response(500, json={"error": {"code": "SERVER_ERROR"}}),
        lambda request: httpx.Response(502, text="Bad Gateway"),
        lambda request: httpx.Response(429, json={"error": {"code": "BAD_REQUEST_ERROR"}}),
        raising(httpx.ConnectError("refused")),
        raising(httpx.ReadTimeout("slow")),
        raising(httpx.RemoteProtocolError("hung up")),
        lambda request: httpx.Response(200, text="<html>not json</html>"),
        lambda request: httpx.Response(200, json=["not", "an", "object"]),
        lambda request: httpx.Response(200, json={"id": "order_X", "amount": "100"}),
        lambda request: httpx.Response(200, json={"id": "order_X", "amount": True}),
    ],
    ids=[
        "500",
        "502",
        "429",
        "connect",
        "timeout",
        "hang-up",
        "html",
        "list",
        "amount text",
        "amount bool",
    ],
)
async def test_what_may_have_happened_is_gateway_unavailable(
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    client = mocked(handler)
    with pytest.raises(GatewayUnavailableError):
        await client.create_order(amount_paise=100, receipt="r", notes={})
    await client.aclose()


async def test_a_4xx_is_refused_with_razorpays_error_fields() -> None:
    body = {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "The amount must be at least INR 1.00",
            "source": "business",
            "step": "payment_initiation",
            "reason": "input_validation_failed",
            "metadata": {},
            "field": "amount",
        }
    }
    client = mocked(lambda request: httpx.Response(400, json=body))
    with pytest.raises(GatewayRefusedError) as refused:
        await client.create_order(amount_paise=1, receipt="r", notes={})
    error = refused.value
    assert (error.status, error.code, error.field) == (400, "BAD_REQUEST_ERROR", "amount")
    assert (error.description, error.reason) == (
        body["error"]["description"],
        body["error"]["reason"],
    )
    await client.aclose()
    unknown = mocked(lambda request: httpx.Response(401, text="no"))
    with pytest.raises(GatewayRefusedError) as refused:
        await unknown.fetch_order("order_X")
    assert (refused.value.status, refused.value.code) == (401, "UNKNOWN")
    await unknown.aclose()


async def test_the_client_sends_razorpays_requests() -> None:
    seen: list[httpx.Request] = []
    payout = {
        "id": "pout_X",
        "entity": "payout",
        "amount": 100,
        "status": "queued",
        "reference_id": "ref",
        "failure_reason": None,
        "utr": None,
        "created_at": 1,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=payout)

    client = mocked(handler)
    made = await client.create_payout(
        idempotency_key="key-1",
        amount_paise=100,
        account=ACCOUNT,
        reference_id="ref",
        narration="n",
        notes={},
    )
    await client.aclose()
    assert made.status == "queued" and made.utr is None
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/v1/payouts")
    assert request.headers["x-payout-idempotency"] == "key-1"
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    )
    sent = json.loads(request.content)
    assert (sent["account_number"], sent["mode"], sent["purpose"]) == (
        PAYOUT_ACCOUNT,
        "IMPS",
        "payout",
    )
    assert sent["queue_if_low_balance"] is True
    assert sent["fund_account"]["bank_account"] == {
        "name": "Asha Rao",
        "ifsc": "HDFC0001234",
        "account_number": "1121431121541121",
    }


async def test_lists_are_read_in_pages_of_100_until_a_short_one() -> None:
    requests: list[httpx.QueryParams] = []
    total = 250

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url.params)
        skip, count = int(request.url.params["skip"]), int(request.url.params["count"])
        items = [
            {
                "id": f"pay_{n}",
                "amount": 100,
                "status": "captured",
                "captured": True,
                "amount_refunded": 0,
                "created_at": 1,
                "order_id": None,
            }
            for n in range(skip, min(skip + count, total))
        ]
        return httpx.Response(
            200, json={"entity": "collection", "count": len(items), "items": items}
        )

    client = mocked(handler)
    ids = [payment.id async for payment in client.payments(since=1_700_000_000)]
    await client.aclose()
    assert ids == [f"pay_{n}" for n in range(total)]
    assert [(p["skip"], p["count"], p["from"]) for p in requests] == [
        ("0", "100", "1700000000"),
        ("100", "100", "1700000000"),
        ("200", "100", "1700000000"),
    ]


def test_the_checkout_signature_matches_an_independently_computed_vector() -> None:
    order_id, payment_id, secret, signature = CHECKOUT_VECTOR
    assert checkout_signature_valid(
        order_id=order_id, payment_id=payment_id, signature=signature, key_secret=secret
    )
    for wrong in (signature.upper(), signature[:-1] + "0", "", "é" * 64):
        assert not checkout_signature_valid(
            order_id=order_id, payment_id=payment_id, signature=wrong, key_secret=secret
        )


def test_the_webhook_signature_matches_an_independently_computed_vector() -> None:
    body, secret, signature = WEBHOOK_VECTOR
    assert webhook_signature(body, secret) == signature
    assert webhook_signature_valid(body=body, signature=signature, webhook_secret=secret)
    assert not webhook_signature_valid(body=body + b" ", signature=signature, webhook_secret=secret)
    assert not webhook_signature_valid(body=body, signature=signature, webhook_secret="other")
    for missing in (None, "", "é"):
        assert not webhook_signature_valid(body=body, signature=missing, webhook_secret=secret)


def _calls(operation: str, outcome: str) -> float:
    return metric_value("tijori_gateway_calls_total", operation=operation, outcome=outcome)


async def test_each_call_is_counted_by_its_route_and_outcome() -> None:
    answers = iter(
        [
            httpx.Response(200, json={"id": "order_AbC123", "amount": 100, "status": "created"}),
            httpx.Response(503, text="down"),
            httpx.Response(400, json={"error": {"code": "BAD_REQUEST_ERROR"}}),
        ]
    )
    client = mocked(lambda request: next(answers))
    route = "GET /v1/orders/{id}"
    before = [_calls(route, outcome) for outcome in ("ok", "unavailable", "refused")]
    for _ in range(3):
        with contextlib.suppress(GatewayUnavailableError, GatewayRefusedError):
            await client.fetch_order("order_AbC123")
    after = [_calls(route, outcome) for outcome in ("ok", "unavailable", "refused")]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]
    await client.aclose()
