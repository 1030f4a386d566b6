"""E-mail verification and the sign-up limit end to end (issue 17): every service on
MariaDB, Kafka and Redis, with verification required (the product's default) and a
low sign-up limit, and the codes read from what the real SMTP server received.

Before the fix five throw-away sign-ups sent ₹500 to one account in 8 s: each wallet
opened with the promotion, and paying needed nothing more than a PIN.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import poll, unique_email, unique_phone
from tests.integration.conftest import PIN, Person, problem, set_pin, wallet_of
from tests.integration.stack import Stack, start_stack, stop_stack

SIGNUP_LIMIT = 3
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def verifying_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("verifying-stack")
    running = start_stack(
        workdir,
        ports_offset=700,
        db_prefix="tijori_verify_",
        settings={
            "TIJORI_REQUIRE_EMAIL_VERIFICATION": "true",
            "TIJORI_SIGNUP_LIMIT_PER_HOUR": str(SIGNUP_LIMIT),
        },
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="module")
async def client(verifying_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=verifying_stack.gateway, timeout=30) as gateway:
        yield gateway


async def _sign_up(client: httpx.AsyncClient, name: str) -> Person:
    body = {"name": name, "email": unique_email(), "phone": unique_phone(), "password": PASSWORD}
    created = await client.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["email_verified"] is False
    login = await client.post(
        "/api/auth/token", data={"username": body["email"], "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return Person(
        id=created.json()["id"],
        name=name,
        email=body["email"],
        phone=body["phone"],
        password=PASSWORD,
        token=login.json()["access_token"],
    )


def _address() -> str:
    """A client address of this run alone (the counts live an hour in the shared Redis)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def _payment_token(
    client: httpx.AsyncClient, person: Person, receiver: str, key: str
) -> httpx.Response:
    return await client.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": "10.00", "receiver": receiver, "idempotency_key": key},
        headers=person.auth,
    )


async def test_the_promotion_waits_for_the_code_and_an_unverified_user_cannot_pay(
    verifying_stack: Stack, client: httpx.AsyncClient
) -> None:
    asha = await _sign_up(client, "Asha Verma")
    ravi = await _sign_up(client, "Ravi Verma")
    await set_pin(client, asha)

    # the wallet opens, without the promotion, and paying is refused before the PIN
    assert (await wallet_of(client, asha))["balance"] == "0.00"
    refused = await _payment_token(client, asha, ravi.phone, "verify-1")
    problem(refused, 403, "email_not_verified")

    code = await verifying_stack.email_code(asha.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = await client.post(
        "/api/users/me/email/verify", json={"code": wrong}, headers=asha.auth
    )
    assert problem(answer, 422, "invalid_code")["attempts_left"] == 4
    verified = await client.post(
        "/api/users/me/email/verify", json={"code": code}, headers=asha.auth
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    assert (await client.get("/api/users/me", headers=asha.auth)).json()["email_verified"]

    async def promoted() -> Any:
        wallet = (await client.get("/api/wallets/me", headers=asha.auth)).json()
        return wallet if wallet["balance"] == "100.00" else None

    await poll(promoted, what="the promotion after verification")
    entries = (await client.get("/api/wallets/me/entries", headers=asha.auth)).json()["items"]
    assert [(e["kind"], e["amount"]) for e in entries] == [("PROMOTION", "100.00")]

    # she pays from it: transactions learned the promoted balance (its pre-check passes)
    token = await _payment_token(client, asha, ravi.phone, "verify-2")
    assert token.status_code == 200, token.text
    sent = await client.post(
        "/api/transactions",
        json={"receiver": ravi.phone, "amount": "10.00"},
        headers=asha.auth
        | {"Idempotency-Key": "verify-2", "X-Payment-Token": token.json()["payment_token"]},
    )
    assert sent.status_code == 202, sent.text

    async def settled() -> Any:
        body = await client.get(f"/api/transactions/{sent.json()['id']}", headers=asha.auth)
        return body.json() if body.json()["status"] != "PENDING" else None

    assert (await poll(settled, what="the payment to settle"))["status"] == "SUCCESS"
    # Ravi never verified: he has what he was sent, and no promotion
    assert (await wallet_of(client, ravi))["balance"] == "10.00"


async def test_the_code_is_e_mailed_and_never_shown_in_the_app(
    verifying_stack: Stack, client: httpx.AsyncClient
) -> None:
    person = await _sign_up(client, "Meera Verma")
    code = await verifying_stack.email_code(person.email)
    [mail] = [
        m
        for m in verifying_stack.mails_to(person.email)
        if m["Subject"] == "Your Tijori verification code"
    ]
    assert mail["X-Tijori-Kind"] == "EMAIL_CODE"

    async def listed() -> Any:
        items = (await client.get("/api/notifications", headers=person.auth)).json()["items"]
        return [item for item in items if item["kind"] == "EMAIL_CODE"]

    [notification] = await poll(listed, what="the code's notification")
    assert code not in notification["message"] and "••••••" in notification["message"]
    # a new code only after a minute
    again = await client.post("/api/users/me/email/verification", headers=person.auth)
    assert problem(again, 429, "too_many_requests")
    assert 1 <= int(again.headers["Retry-After"]) <= 60


async def test_sign_ups_are_limited_per_client_address(verifying_stack: Stack) -> None:
    # at the users service itself, which believes 127.0.0.1's X-Forwarded-For (as it
    # believes the gateway's), so each test address is a client of its own
    farm, others = _address(), _address()
    async with httpx.AsyncClient(base_url=verifying_stack.service_url("users")) as users:

        async def sign_up_from(address: str) -> httpx.Response:
            body = {
                "name": "Farm",
                "email": unique_email("farm"),
                "phone": unique_phone(),
                "password": PASSWORD,
            }
            return await users.post("/api/users", json=body, headers={"X-Forwarded-For": address})

        for _ in range(SIGNUP_LIMIT):
            assert (await sign_up_from(farm)).status_code == 201
        refused = await sign_up_from(farm)
        problem(refused, 429, "too_many_requests")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        # people behind another address sign up as before
        assert (await sign_up_from(others)).status_code == 201


def test_every_code_mail_has_exactly_one_six_digit_number(verifying_stack: Stack) -> None:
    for message in verifying_stack.mails_to("@example.com"):
        if message["Subject"] == "Your Tijori verification code":
            body = message.get_body(preferencelist=("plain",)).get_content()
            assert len(re.findall(r"\b[0-9]{6}\b", body)) == 1
