"""Helpers for tests that add money through the gateway sandbox and withdraw it."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import poll
from tests.integration.conftest import PIN, Person
from tests.integration.stack import Stack
from tijori.payments.config import SANDBOX_KEY_ID, SANDBOX_KEY_SECRET, SANDBOX_WEBHOOK_SECRET

WEBHOOK = "/api/payments/webhooks/razorpay"
# a PAN the sandbox KYC verifier verifies (it rejects only the digits 0000 and 9999)
VERIFIED_PAN = "ABCPR1234F"
BANK = {"account_number": "50100123456789", "ifsc": "HDFC0001234", "account_name": "Asha Rao"}
_HIDDEN = re.compile(r"<input type='hidden' name='([^']+)' value='([^']*)'>")


async def upgrade_to_full(
    client: httpx.AsyncClient, person: Person, pan: str = VERIFIED_PAN, timeout: float = 30
) -> None:
    """Make ``person`` full-KYC through the sandbox KYC check, and wait until users says
    FULL and wallets applies the full-KYC limits (payments asks wallets for the tier)."""
    body = {"pan": pan, "name": "Asha Rao", "date_of_birth": "1994-08-15"}
    answer = await client.post("/api/users/me/kyc", json=body, headers=person.auth)
    assert answer.status_code == 202, answer.text

    async def full() -> bool:
        kyc = (await client.get("/api/users/me/kyc", headers=person.auth)).json()
        assert kyc["kyc"] in ("PENDING", "FULL"), kyc
        return bool(kyc["kyc"] == "FULL")

    await poll(full, timeout=timeout, what=f"{person.email} to be full-KYC")

    async def wallet_full() -> bool:
        limits = await client.get("/api/wallets/me/limits", headers=person.auth)
        return bool(limits.status_code == 200 and limits.json()["tier"] == "FULL")

    await poll(wallet_full, timeout=timeout, what=f"the wallet of {person.email} to be full-KYC")


def sandbox_url(stack: Stack) -> str:
    """The gateway sandbox's own base URL."""
    return stack.service_url("sandbox")


async def add_money(client: httpx.AsyncClient, person: Person, amount: Any) -> dict[str, Any]:
    """Start a top-up; its body (with the checkout URL)."""
    answer = await client.post("/api/payments/topups", json={"amount": amount}, headers=person.auth)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def checkout(
    checkout_url: str, action: str = "pay", *, follow_return: bool = True
) -> httpx.Response:
    """Press a button of the sandbox's checkout page as a browser without JavaScript
    would: read the page's form, post it, and (``follow_return``) go back to Tijori."""
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(checkout_url)
        assert page.status_code == 200, page.text
        base = str(page.url).split("/v1/")[0]
        fields = dict(_HIDDEN.findall(page.text))
        answer = await browser.post(f"{base}/v1/checkout/embedded/{action}", data=fields)
        if answer.status_code != 303 or not follow_return:
            return answer
        return await browser.get(answer.headers["location"])


async def reaches(
    client: httpx.AsyncClient, person: Person, path: str, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    """Wait until the top-up or withdrawal at ``path`` reaches one of ``statuses``."""

    async def probe() -> Any:
        answer = await client.get(path, headers=person.auth)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["status"] in statuses else None

    result: dict[str, Any] = await poll(probe, timeout=timeout, what=f"{path} to be {statuses}")
    return result


async def topup_status(
    client: httpx.AsyncClient, person: Person, topup_id: str, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    """Wait until the top-up reaches one of ``statuses``; return it."""
    return await reaches(
        client, person, f"/api/payments/topups/{topup_id}", *statuses, timeout=timeout
    )


async def withdrawal_status(
    client: httpx.AsyncClient,
    person: Person,
    withdrawal_id: str,
    *statuses: str,
    timeout: float = 30,
) -> dict[str, Any]:
    """Wait until the withdrawal reaches one of ``statuses``; return it."""
    path = f"/api/payments/withdrawals/{withdrawal_id}"
    return await reaches(client, person, path, *statuses, timeout=timeout)


async def payment_token(client: httpx.AsyncClient, person: Person, amount: Any, key: str) -> str:
    """A payment token for a withdrawal of ``amount`` under the Idempotency-Key ``key``."""
    answer = await client.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": amount, "idempotency_key": key},
        headers=person.auth,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["payment_token"]
    return token


async def withdraw(
    client: httpx.AsyncClient,
    person: Person,
    amount: Any,
    *,
    key: str | None = None,
    token: str | None = None,
    account: dict[str, str] | None = None,
) -> httpx.Response:
    """Ask for a withdrawal, with a fresh key and payment token unless given."""
    key = key or str(uuid.uuid4())
    token = token or await payment_token(client, person, amount, key)
    return await client.post(
        "/api/payments/withdrawals",
        json={"amount": amount} | (account or BANK),
        headers=person.auth | {"Idempotency-Key": key, "X-Payment-Token": token},
    )


def sandbox_api(stack: Stack) -> httpx.AsyncClient:
    """A client of the sandbox's Razorpay API, with Tijori's keys."""
    return httpx.AsyncClient(
        base_url=sandbox_url(stack), auth=(SANDBOX_KEY_ID, SANDBOX_KEY_SECRET), timeout=30
    )


def webhook_signature(body: bytes, secret: str = SANDBOX_WEBHOOK_SECRET) -> str:
    """The signature of a webhook body: HMAC-SHA256 with the webhook secret, in hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(
    event: str, payload: dict[str, Any], secret: str = SANDBOX_WEBHOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A webhook body as the gateway sends it, and its headers (a new event id)."""
    body = json.dumps(
        {"entity": "event", "account_id": "acc_test", "event": event, "payload": payload}
    ).encode()
    signature = webhook_signature(body, secret)
    headers = {
        "Content-Type": "application/json",
        "X-Razorpay-Signature": signature,
        "X-Razorpay-Event-Id": f"evt_{uuid.uuid4().hex[:14]}",
    }
    return body, headers


def checkout_signature(order_id: str, payment_id: str) -> str:
    """The signature the checkout returns for a payment of an order."""
    message = f"{order_id}|{payment_id}".encode()
    return hmac.new(SANDBOX_KEY_SECRET.encode(), message, hashlib.sha256).hexdigest()


@asynccontextmanager
async def sandbox(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the sandbox's control API; every switch is reset afterwards."""
    async with httpx.AsyncClient(base_url=sandbox_url(stack) + "/_sandbox", timeout=30) as client:
        try:
            yield client
        finally:
            await client.post("/reset")


async def order_deliveries(
    control: httpx.AsyncClient, order_id: str, event: str | None = None
) -> list[dict[str, Any]]:
    """The sandbox's webhook deliveries of payments of ``order_id`` (only ``event``'s,
    if given), in the order they were delivered."""
    items = (await control.get("/webhooks")).json()["items"]
    return sorted(
        (
            item
            for item in items
            if item["body"]["payload"].get("payment", {}).get("entity", {}).get("order_id")
            == order_id
            and event in (None, item["event"])
        ),
        key=lambda item: item["delivered_at"] or 0,
    )


async def webhooks_settled(control: httpx.AsyncClient, timeout: float = 30) -> None:
    """Wait until the sandbox has nothing left to deliver."""

    async def probe() -> bool:
        return bool((await control.get("/webhooks")).json()["settled"])

    await poll(probe, timeout=timeout, what="the sandbox's webhooks to be delivered")
