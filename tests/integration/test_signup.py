"""Sign-up end to end: user, wallet with the promotion, welcome e-mail, through the gateway."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll
from tests.integration.conftest import Person, sign_up, wallet_of
from tests.integration.stack import Stack


async def test_sign_up_opens_a_wallet_with_the_promotion_and_sends_a_welcome_mail(
    stack: Stack, gateway: httpx.AsyncClient, wallets_db: AsyncEngine
) -> None:
    person = await sign_up(gateway, name="Asha Rao")

    wallet = await wallet_of(gateway, person)
    assert wallet["balance"] == "100.00"
    assert wallet["currency"] == "INR"
    assert wallet["status"] == "ACTIVE"
    assert wallet["user_id"] == person.id
    assert wallet["phone"] == person.phone

    entries = (await gateway.get("/api/wallets/me/entries", headers=person.auth)).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries["items"]] == [
        ("PROMOTION", "100.00", "100.00")
    ]
    assert entries["next_cursor"] is None

    # the promotion is a balanced pair drawn from the system promotions account
    async with wallets_db.connect() as connection:
        pair = (
            (
                await connection.execute(
                    text("SELECT amount_paise FROM ledger_entries WHERE reference = :r"),
                    {"r": f"promo:{person.id}"},
                )
            )
            .scalars()
            .all()
        )
    assert sorted(pair) == [-10_000, 10_000]

    [mail] = await stack.wait_for_mails(person.email, 1)
    assert mail["Subject"] == "Welcome to Tijori"
    assert "Asha Rao" in mail.get_payload(decode=True).decode()

    async def sent() -> list[dict[str, str]] | None:
        items = (await gateway.get("/api/notifications", headers=person.auth)).json()["items"]
        return items if items and items[0]["status"] == "SENT" else None

    [notification] = await poll(sent, what="the welcome notification to be SENT")
    assert notification["kind"] == "WELCOME"
    assert notification["receiver"] == person.email
    assert notification["channel"] == "EMAIL"


async def test_a_user_reads_only_their_own_wallet_and_notifications(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    other = await sign_up(gateway)
    mine = await wallet_of(gateway, person)
    theirs = await wallet_of(gateway, other)
    assert mine["id"] != theirs["id"]
    for path in ("/api/wallets/me", "/api/wallets/me/entries", "/api/notifications"):
        assert (await gateway.get(path)).status_code == 401
    notes = (await gateway.get("/api/notifications", headers=other.auth)).json()["items"]
    assert all(n["receiver"] == other.email for n in notes)


async def test_the_gateway_reports_every_service_ready(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/ready")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {
        "users": "ok",
        "wallets": "ok",
        "transactions": "ok",
        "notifications": "ok",
        "payments": "ok",
    }


async def test_every_service_serves_health_ready_metrics_and_docs(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service in ("users", "wallets", "transactions", "notifications", "payments"):
            base = stack.service_url(service)
            assert (await client.get(base + "/health")).json()["status"] == "ok"
            ready = (await client.get(base + "/ready")).json()
            assert {"database": "ok", "cache": "ok", "broker": "ok"}.items() <= ready[
                "checks"
            ].items()
            # and every consumer has joined its group
            assert set(ready["checks"].values()) == {"ok"}, ready
            assert "http_request" in (await client.get(base + "/metrics")).text
            assert (await client.get(base + "/docs")).status_code == 200
            assert (await client.get(base + "/openapi.json")).json()["info"]["title"]
