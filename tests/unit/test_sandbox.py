"""The payment gateway sandbox answers as Razorpay does: orders, checkout, refunds,
payouts, its errors, and state that outlives the process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.unit.sandbox import (
    AUTH,
    CALLBACK,
    KEY_ID,
    KEY_SECRET,
    Merchant,
    checkout,
    create_order,
    expected_hmac,
    payout_body,
    running_sandbox,
    settings_for,
    settled,
)

ERROR_FIELDS = {"code", "description", "source", "step", "reason", "metadata", "field"}


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running_sandbox(settings_for(tmp_path), Merchant()) as client:
        yield client


def assert_razorpay_error(answer: httpx.Response, status: int, field: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == ERROR_FIELDS
    assert error["code"] == "BAD_REQUEST_ERROR"
    if field is not None:
        assert error["field"] == field
    description: str = error["description"]
    return description


async def test_an_order_has_razorpays_fields_and_is_fetched_back(
    sandbox: httpx.AsyncClient,
) -> None:
    answer = await sandbox.post(
        "/v1/orders", auth=AUTH, json={"amount": 25_050, "receipt": "r-1", "notes": {"u": "1"}}
    )
    order = answer.json()
    assert order["id"].startswith("order_") and len(order["id"]) == len("order_") + 14
    assert order["id"][6:].isalnum()
    assert {key: order[key] for key in ("entity", "amount", "amount_paid", "amount_due")} == {
        "entity": "order",
        "amount": 25_050,
        "amount_paid": 0,
        "amount_due": 25_050,
    }
    assert (order["status"], order["attempts"], order["receipt"]) == ("created", 0, "r-1")
    assert isinstance(order["created_at"], int)
    fetched = await sandbox.get(f"/v1/orders/{order['id']}", auth=AUTH)
    assert fetched.json() == order
    payments = await sandbox.get(f"/v1/orders/{order['id']}/payments", auth=AUTH)
    assert payments.json() == {"entity": "collection", "count": 0, "items": []}


@pytest.mark.parametrize(
    "auth",
    [None, (KEY_ID, "wrong-secret"), ("rzp_test_other", KEY_SECRET)],
    ids=["missing", "wrong secret", "wrong key"],
)
async def test_a_request_without_the_right_key_is_refused_401(
    sandbox: httpx.AsyncClient, auth: tuple[str, str] | None
) -> None:
    answer = await sandbox.post("/v1/orders", auth=auth, json={"amount": 100})
    assert_razorpay_error(answer, 401)
    garbage = await sandbox.get("/v1/payments", headers={"Authorization": "Basic %%%"})
    assert_razorpay_error(garbage, 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 99}, "amount"),
        ({"amount": 100.5}, "amount"),
        ({"amount": 1000, "currency": "USD"}, "currency"),
        ({"amount": 1000, "receipt": "r" * 41}, "receipt"),
        ({"amount": 1000, "colour": "blue"}, "colour"),
        ({}, "amount"),
    ],
)
async def test_invalid_input_is_400_in_razorpays_shape(
    sandbox: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    assert_razorpay_error(await sandbox.post("/v1/orders", auth=AUTH, json=body), 400, field)


async def test_a_body_that_is_not_json_and_an_unknown_url_are_400_too(
    sandbox: httpx.AsyncClient,
) -> None:
    broken = await sandbox.post(
        "/v1/orders",
        auth=AUTH,
        content=b'{"amount": ',
        headers={"content-type": "application/json"},
    )
    assert "not valid JSON" in assert_razorpay_error(broken, 400)
    assert_razorpay_error(await sandbox.get("/v1/nowhere", auth=AUTH), 400)
    assert_razorpay_error(await sandbox.get("/v1/payments?count=101", auth=AUTH), 400, "count")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders/order_AAAAAAAAAAAAAA",
        "/v1/orders/order_AAAAAAAAAAAAAA/payments",
        "/v1/payments/pay_AAAAAAAAAAAAAA",
        "/v1/payments/pay_AAAAAAAAAAAAAA/refunds",
        "/v1/refunds/rfnd_AAAAAAAAAAAAAA",
        "/v1/payouts/pout_AAAAAAAAAAAAAA",
    ],
)
async def test_an_unknown_id_is_400_the_id_provided_does_not_exist(
    sandbox: httpx.AsyncClient, path: str
) -> None:
    description = assert_razorpay_error(await sandbox.get(path, auth=AUTH), 400)
    assert description == "The id provided does not exist"


async def test_the_checkout_page_shows_the_order_marked_as_a_test_gateway(
    sandbox: httpx.AsyncClient,
) -> None:
    order_id = await create_order(sandbox, 25_050)
    query = {"key_id": KEY_ID, "order_id": order_id, "callback_url": CALLBACK, "name": "Tijori"}
    for answer in (
        await sandbox.get("/v1/checkout/embedded", params=query),
        await sandbox.post("/v1/checkout/embedded", data=query),
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        page = answer.text
        assert "TEST GATEWAY — no real money moves" in page
        assert "Tijori" in page and "₹250.50" in page and order_id in page
        for action in ("pay", "fail", "pending"):
            assert f"action='/v1/checkout/embedded/{action}'" in page
        assert "<script" not in page


@pytest.mark.parametrize(
    "change",
    [{"order_id": "order_AAAAAAAAAAAAAA"}, {"key_id": "rzp_test_other"}, {"callback_url": "x"}],
    ids=["unknown order", "wrong key", "no callback URL"],
)
async def test_a_checkout_that_cannot_go_on_is_an_html_page_answered_400(
    sandbox: httpx.AsyncClient, change: dict[str, str]
) -> None:
    order_id = await create_order(sandbox)
    query = {"key_id": KEY_ID, "order_id": order_id, "callback_url": CALLBACK} | change
    page = await sandbox.get("/v1/checkout/embedded", params=query)
    assert page.status_code == 400 and "cannot go on" in page.text
    action = await sandbox.post("/v1/checkout/embedded/pay", data=query)
    assert action.status_code == 400 and "cannot go on" in action.text


async def test_paying_returns_303_with_a_valid_signature_and_the_order_is_paid(
    sandbox: httpx.AsyncClient,
) -> None:
    order_id = await create_order(sandbox, 25_050)
    answer = await checkout(sandbox, order_id, "pay")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    returned = {key: values[0] for key, values in parse_qs(location.query).items()}
    payment_id = returned["razorpay_payment_id"]
    assert payment_id.startswith("pay_") and returned["razorpay_order_id"] == order_id
    assert returned["razorpay_signature"] == expected_hmac(
        KEY_SECRET, f"{order_id}|{payment_id}".encode()
    )
    order = (await sandbox.get(f"/v1/orders/{order_id}", auth=AUTH)).json()
    assert (order["status"], order["amount_paid"], order["amount_due"]) == ("paid", 25_050, 0)
    payment = (await sandbox.get(f"/v1/payments/{payment_id}", auth=AUTH)).json()
    assert (payment["status"], payment["captured"], payment["method"]) == ("captured", True, "upi")
    assert (payment["amount"], payment["order_id"]) == (25_050, order_id)
    listed = (await sandbox.get(f"/v1/orders/{order_id}/payments", auth=AUTH)).json()
    assert [item["id"] for item in listed["items"]] == [payment_id]


async def test_an_order_already_paid_is_not_paid_again(sandbox: httpx.AsyncClient) -> None:
    order_id = await create_order(sandbox)
    assert (await checkout(sandbox, order_id, "pay")).status_code == 303
    again = await checkout(sandbox, order_id, "pay")
    assert again.status_code == 409 and "already paid" in again.text
    page = await sandbox.get(
        "/v1/checkout/embedded",
        params={"key_id": KEY_ID, "order_id": order_id, "callback_url": CALLBACK},
    )
    assert "already paid" in page.text and "/v1/checkout/embedded/pay" not in page.text
    listed = (await sandbox.get(f"/v1/orders/{order_id}/payments", auth=AUTH)).json()
    assert listed["count"] == 1


async def test_failing_returns_the_error_fields_and_the_order_can_still_be_paid(
    sandbox: httpx.AsyncClient,
) -> None:
    order_id = await create_order(sandbox)
    answer = await checkout(sandbox, order_id, "fail")
    assert answer.status_code == 303
    returned = parse_qs(urlsplit(answer.headers["location"]).query)
    assert "razorpay_payment_id" not in returned
    assert returned["error[code]"] == ["BAD_REQUEST_ERROR"]
    assert returned["error[reason]"] == ["payment_failed"] and returned["error[description]"]
    metadata = httpx.Response(200, content=returned["error[metadata]"][0]).json()
    assert metadata["order_id"] == order_id
    payment = (await sandbox.get(f"/v1/payments/{metadata['payment_id']}", auth=AUTH)).json()
    assert (payment["status"], payment["error_code"]) == ("failed", "BAD_REQUEST_ERROR")
    order = (await sandbox.get(f"/v1/orders/{order_id}", auth=AUTH)).json()
    assert (order["status"], order["attempts"]) == ("attempted", 1)
    assert (await checkout(sandbox, order_id, "pay")).status_code == 303


async def test_a_payment_left_pending_is_settled_later_through_the_control_api(
    sandbox: httpx.AsyncClient,
) -> None:
    order_id = await create_order(sandbox)
    answer = await checkout(sandbox, order_id, "pending")
    assert answer.status_code == 303 and answer.headers["location"] == CALLBACK
    [payment] = (await sandbox.get(f"/v1/orders/{order_id}/payments", auth=AUTH)).json()["items"]
    assert (payment["status"], payment["captured"]) == ("created", False)
    captured = await sandbox.post(f"/_sandbox/payments/{payment['id']}/capture")
    assert captured.json()["status"] == "captured"
    assert (await sandbox.get(f"/v1/orders/{order_id}", auth=AUTH)).json()["status"] == "paid"
    refused = await sandbox.post(f"/_sandbox/payments/{payment['id']}/fail")
    assert_razorpay_error(refused, 400)


async def test_an_authorized_payment_is_captured_through_the_api_for_its_whole_amount(
    sandbox: httpx.AsyncClient,
) -> None:
    order_id = await create_order(sandbox, 1_000)
    await checkout(sandbox, order_id, "pending")
    [payment] = (await sandbox.get(f"/v1/orders/{order_id}/payments", auth=AUTH)).json()["items"]
    path = f"/v1/payments/{payment['id']}/capture"
    not_yet = await sandbox.post(path, auth=AUTH, json={"amount": 1_000, "currency": "INR"})
    assert_razorpay_error(not_yet, 400)
    await sandbox.post(f"/_sandbox/payments/{payment['id']}/authorize")
    wrong = await sandbox.post(path, auth=AUTH, json={"amount": 999, "currency": "INR"})
    assert_razorpay_error(wrong, 400, "amount")
    right = await sandbox.post(path, auth=AUTH, json={"amount": 1_000, "currency": "INR"})
    assert (right.json()["status"], right.json()["captured"]) == ("captured", True)
    assert_razorpay_error(
        await sandbox.post(path, auth=AUTH, json={"amount": 1_000, "currency": "INR"}), 400
    )


async def test_refunds_add_up_to_the_payment_and_no_more(sandbox: httpx.AsyncClient) -> None:
    order_id = await create_order(sandbox, 10_000)
    query = parse_qs(urlsplit((await checkout(sandbox, order_id, "pay")).headers["location"]).query)
    payment_id = query["razorpay_payment_id"][0]
    path = f"/v1/payments/{payment_id}/refund"
    part = (await sandbox.post(path, auth=AUTH, json={"amount": 4_000, "receipt": "rf-1"})).json()
    assert part["id"].startswith("rfnd_") and part["entity"] == "refund"
    assert (part["amount"], part["payment_id"], part["status"]) == (4_000, payment_id, "processed")
    payment = (await sandbox.get(f"/v1/payments/{payment_id}", auth=AUTH)).json()
    assert (payment["status"], payment["refund_status"]) == ("captured", "partial")
    too_much = await sandbox.post(path, auth=AUTH, json={"amount": 6_001})
    assert_razorpay_error(too_much, 400, "amount")
    rest = (await sandbox.post(path, auth=AUTH, json={})).json()
    assert rest["amount"] == 6_000
    payment = (await sandbox.get(f"/v1/payments/{payment_id}", auth=AUTH)).json()
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 10_000)
    assert_razorpay_error(await sandbox.post(path, auth=AUTH, json={"amount": 100}), 400)
    listed = (await sandbox.get(f"/v1/payments/{payment_id}/refunds", auth=AUTH)).json()
    assert [item["id"] for item in listed["items"]] == [part["id"], rest["id"]]
    assert (await sandbox.get(f"/v1/refunds/{part['id']}", auth=AUTH)).json() == part
    newest_first = (await sandbox.get("/v1/refunds?count=1&skip=0", auth=AUTH)).json()
    assert [item["id"] for item in newest_first["items"]] == [rest["id"]]


async def test_a_payout_key_used_again_with_the_same_body_gives_the_same_payout(
    sandbox: httpx.AsyncClient,
) -> None:
    headers = {"X-Payout-Idempotency": "withdrawal-key-1"}
    first = await sandbox.post("/v1/payouts", auth=AUTH, json=payout_body(), headers=headers)
    payout = first.json()
    assert payout["id"].startswith("pout_") and payout["fund_account_id"].startswith("fa_")
    assert (payout["entity"], payout["amount"], payout["mode"]) == ("payout", 10_000, "IMPS")
    assert payout["status"] == "processing" and payout["reference_id"] == "withdrawal-1"
    again = await sandbox.post("/v1/payouts", auth=AUTH, json=payout_body(), headers=headers)
    assert again.json()["id"] == payout["id"]
    other = await sandbox.post(
        "/v1/payouts", auth=AUTH, json=payout_body(amount=20_000), headers=headers
    )
    assert_razorpay_error(other, 400, "X-Payout-Idempotency")
    listed = await sandbox.get(
        "/v1/payouts",
        auth=AUTH,
        params={"account_number": "7878780080316316", "reference_id": "withdrawal-1"},
    )
    assert [item["id"] for item in listed.json()["items"]] == [payout["id"]]
    for missing in ({}, {"X-Payout-Idempotency": "k"}):
        answer = await sandbox.post("/v1/payouts", auth=AUTH, json=payout_body(), headers=missing)
        assert_razorpay_error(answer, 400, "X-Payout-Idempotency")


@pytest.mark.parametrize(
    ("bank_account", "field"),
    [
        ({"ifsc": "HDFC1001234"}, "ifsc"),
        ({"ifsc": "hdfc0001234"}, "ifsc"),
        ({"ifsc": "HDFC000123"}, "ifsc"),
        ({"account_number": "12345678"}, "account_number"),
        ({"account_number": "1234567890123456789"}, "account_number"),
        ({"account_number": "12345678A"}, "account_number"),
    ],
)
async def test_a_payout_to_a_malformed_bank_account_is_refused(
    sandbox: httpx.AsyncClient, bank_account: dict[str, str], field: str
) -> None:
    body = payout_body()
    body["fund_account"]["bank_account"] |= bank_account
    answer = await sandbox.post(
        "/v1/payouts", auth=AUTH, json=body, headers={"X-Payout-Idempotency": "key-" + field}
    )
    assert_razorpay_error(answer, 400, f"fund_account.bank_account.{field}")


async def test_the_state_outlives_the_sandbox(tmp_path: Path) -> None:
    merchant = Merchant(answers=[500] * 1000)  # nothing delivered before the restart
    async with running_sandbox(settings_for(tmp_path), merchant) as first:
        order_id = await create_order(first, 12_300, receipt="kept")
        await checkout(first, order_id, "pay")
    merchant.answers.clear()
    async with running_sandbox(settings_for(tmp_path), merchant) as second:
        order = (await second.get(f"/v1/orders/{order_id}", auth=AUTH)).json()
        assert (order["receipt"], order["status"]) == ("kept", "paid")
        body = await settled(second)
        assert body["counts"] == {"delivered": 3}
    assert merchant.events()[-3:] == ["payment.authorized", "payment.captured", "order.paid"]
