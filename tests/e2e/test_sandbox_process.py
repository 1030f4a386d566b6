"""``tijori serve sandbox`` as a process: a customer pays through its checkout page, the
merchant receives signed webhooks at least once, and a crash loses nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.sandbox_process import (
    KEY_ID,
    SandboxProcess,
    WebhookReceiver,
    signed,
)

CALLBACK = "http://merchant.test/payments/return"
PAID = ["payment.authorized", "payment.captured", "order.paid"]
FORM = re.compile(r"<form method='post' action='([^']+)'>(.*?)</form>", re.S)
HIDDEN = re.compile(r"<input type='hidden' name='([^']+)' value='([^']*)'>")


@pytest.fixture(scope="module")
def merchant() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def sandbox(
    merchant: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxProcess]:
    with SandboxProcess(tmp_path_factory.mktemp("sandbox"), merchant.url) as process:
        yield process


@pytest.fixture(autouse=True)
def clean_slate(merchant: WebhookReceiver, sandbox: SandboxProcess) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/reset")
    merchant.received.clear()
    merchant.answers.clear()


def create_order(sandbox: SandboxProcess, amount: int = 10_000) -> str:
    answer = httpx.post(f"{sandbox.url}/v1/orders", auth=sandbox.auth, json={"amount": amount})
    assert answer.status_code == 200, answer.text
    order_id: str = answer.json()["id"]
    return order_id


def press(sandbox: SandboxProcess, order_id: str, button: str) -> httpx.Response:
    """Open the checkout page and submit one of its forms, as a browser would."""
    page = httpx.get(
        f"{sandbox.url}/v1/checkout/embedded",
        params={"key_id": KEY_ID, "order_id": order_id, "callback_url": CALLBACK},
    )
    assert page.status_code == 200, page.text
    forms = {action: dict(HIDDEN.findall(inner)) for action, inner in FORM.findall(page.text)}
    action = f"/v1/checkout/embedded/{button}"
    fields = {key: unescape(value) for key, value in forms[action].items()}
    return httpx.post(f"{sandbox.url}{action}", data=fields)


def test_paying_at_the_checkout_sends_signed_webhooks(
    sandbox: SandboxProcess, merchant: WebhookReceiver
) -> None:
    order_id = create_order(sandbox)
    answer = press(sandbox, order_id, "pay")
    assert answer.status_code == 303
    returned = parse_qs(urlsplit(answer.headers["location"]).query)
    assert returned["razorpay_order_id"] == [order_id]
    received = merchant.wait_for(3)
    assert [webhook.event["event"] for webhook in received] == PAID
    for webhook in received:
        assert webhook.headers["x-razorpay-signature"] == signed(webhook.body)
        assert webhook.headers["content-type"] == "application/json"
    assert received[2].event["payload"]["order"]["entity"]["status"] == "paid"
    assert len({webhook.event_id for webhook in received}) == 3


def test_a_webhook_answered_500_comes_again_with_the_same_event_id(
    sandbox: SandboxProcess, merchant: WebhookReceiver
) -> None:
    merchant.answers.extend([500])
    press(sandbox, create_order(sandbox), "fail")
    first, retry = merchant.wait_for(2)
    assert first.event_id == retry.event_id and first.body == retry.body
    assert retry.event["event"] == "payment.failed"
    [delivery] = sandbox.wait_settled()["items"][-1:]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


def test_the_duplicate_and_drop_switches(
    sandbox: SandboxProcess, merchant: WebhookReceiver
) -> None:
    httpx.put(f"{sandbox.url}/_sandbox/webhooks/behaviour", json={"duplicate": 2})
    press(sandbox, create_order(sandbox), "fail")
    twice = merchant.wait_for(2)
    assert twice[0].event_id == twice[1].event_id
    merchant.received.clear()
    httpx.put(f"{sandbox.url}/_sandbox/webhooks/behaviour", json={"drop": 3})
    press(sandbox, create_order(sandbox), "pay")
    press(sandbox, create_order(sandbox), "fail")
    assert sandbox.wait_settled()["counts"]["dropped"] == 3
    assert merchant.events() == ["payment.failed"]


def test_a_killed_sandbox_restarts_with_its_orders_and_undelivered_webhooks(
    tmp_path: Path,
) -> None:
    with WebhookReceiver(answers=[503] * 10_000) as merchant:
        process = SandboxProcess(tmp_path, merchant.url)
        try:
            process.start()
            order_id = create_order(process, 4_200)
            assert press(process, order_id, "pay").status_code == 303
            merchant.wait_for(1)  # tried, refused: still in the queue
            process.kill()
            merchant.answers.clear()
            merchant.received.clear()
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{process.url}/health")
            process.start()
            order = httpx.get(f"{process.url}/v1/orders/{order_id}", auth=process.auth).json()
            assert (order["status"], order["amount_paid"]) == ("paid", 4_200)
            received = merchant.wait_for(3)
            assert sorted(webhook.event["event"] for webhook in received) == sorted(PAID)
            assert all(w.headers["x-razorpay-signature"] == signed(w.body) for w in received)
        finally:
            process.stop()
