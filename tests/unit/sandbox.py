"""The payment gateway sandbox in-process: its app over ``httpx.ASGITransport``, its
webhooks posted to a recording stand-in for the merchant, all on one event loop."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import poll
from tijori.sandbox.app import create_app
from tijori.sandbox.config import SandboxSettings

KEY_ID = "rzp_test_unit"
KEY_SECRET = "unit-key-secret"
WEBHOOK_SECRET = "unit-webhook-secret"
AUTH = (KEY_ID, KEY_SECRET)
CALLBACK = "https://merchant.test/payments/return"
SANDBOX_URL = "http://sandbox.test"


def expected_hmac(secret: str, message: bytes) -> str:
    """HMAC-SHA256 in hex, computed here rather than by the code under test."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Received:
    """One webhook as the merchant received it."""

    headers: httpx.Headers
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        """The parsed body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Merchant:
    """Answers webhooks: first with the statuses in ``answers``, then 200."""

    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The merchant's webhook endpoint."""
        self.received.append(Received(request.headers, request.content))
        return httpx.Response(self.answers.pop(0) if self.answers else 200)

    def events(self) -> list[str]:
        """The event names received, in order."""
        return [item.event["event"] for item in self.received]


def settings_for(data_dir: Path, **overrides: Any) -> SandboxSettings:
    """Settings of a quick sandbox (short retries and payouts) keeping state in data_dir."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "psp_key_id": KEY_ID,
        "psp_key_secret": KEY_SECRET,
        "psp_webhook_secret": WEBHOOK_SECRET,
        "sandbox_webhook_url": "http://merchant.test/webhooks",
        "sandbox_webhook_retry_seconds": 0.05,
        "sandbox_payout_seconds": 0.05,
        "sandbox_tick_seconds": 0.01,
    }
    return SandboxSettings(**(values | overrides))


@contextlib.asynccontextmanager
async def running_app(settings: SandboxSettings, merchant: Merchant) -> AsyncIterator[FastAPI]:
    """The sandbox's app, started (its lifespan entered), its webhooks to ``merchant``."""
    app = create_app(settings, webhook_transport=httpx.MockTransport(merchant.handle))
    async with app.router.lifespan_context(app):
        yield app


@contextlib.asynccontextmanager
async def running_sandbox(
    settings: SandboxSettings, merchant: Merchant
) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox, started, and a client of it."""
    async with (
        running_app(settings, merchant) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SANDBOX_URL) as client,
    ):
        yield client


async def create_order(client: httpx.AsyncClient, amount: int = 50_000, **extra: Any) -> str:
    """A new order's id."""
    answer = await client.post(
        "/v1/orders", auth=AUTH, json={"amount": amount, "currency": "INR", **extra}
    )
    assert answer.status_code == 200, answer.text
    order_id: str = answer.json()["id"]
    return order_id


async def checkout(client: httpx.AsyncClient, order_id: str, action: str) -> httpx.Response:
    """Press one of the checkout page's buttons, as a browser submits its form."""
    form = {"key_id": KEY_ID, "order_id": order_id, "callback_url": CALLBACK}
    return await client.post(f"/v1/checkout/embedded/{action}", data=form)


async def deliveries(client: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /_sandbox/webhooks``."""
    answer = await client.get("/_sandbox/webhooks")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def settled(client: httpx.AsyncClient, timeout: float = 5) -> dict[str, Any]:
    """Wait until no webhook is pending or held; the deliveries then."""

    async def probe() -> dict[str, Any] | None:
        body = await deliveries(client)
        return body if body["settled"] else None

    result: dict[str, Any] = await poll(probe, timeout=timeout, interval=0.02, what="webhooks")
    return result


def payout_body(**overrides: Any) -> dict[str, Any]:
    """A valid composite payout request."""
    body: dict[str, Any] = {
        "account_number": "7878780080316316",
        "amount": 10_000,
        "currency": "INR",
        "mode": "IMPS",
        "purpose": "payout",
        "fund_account": {
            "account_type": "bank_account",
            "bank_account": {
                "name": "Asha Rao",
                "ifsc": "HDFC0001234",
                "account_number": "1121431121541121",
            },
            "contact": {"name": "Asha Rao", "type": "customer"},
        },
        "queue_if_low_balance": True,
        "reference_id": "withdrawal-1",
        "narration": "Tijori withdrawal",
        "notes": {},
    }
    return body | overrides
