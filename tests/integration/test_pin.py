"""The transaction PIN on the running stack: setting and changing it, the payment token
it buys, and the lock that three wrong PINs put on every device of the user."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Person, problem, sign_up
from tests.integration.stack import Stack
from tijori.common.auth import PaymentTokenError, TokenKeys
from tijori.common.config import CommonSettings


async def _set(gateway: httpx.AsyncClient, person: Person, **body: str) -> httpx.Response:
    return await gateway.put("/api/users/me/pin", json=body, headers=person.auth)


async def _token(
    gateway: httpx.AsyncClient, person: Person, the_pin: str, **overrides: Any
) -> httpx.Response:
    body = {"pin": the_pin, "amount": "25.50", "receiver": "98123 45678", "idempotency_key": "k1"}
    return await gateway.post("/api/auth/payment-token", json=body | overrides, headers=person.auth)


async def test_a_pin_is_set_once_then_changed_with_the_current_pin_or_the_password(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    problem(await _set(gateway, person, pin="1234"), 422, "weak_pin")
    problem(await _set(gateway, person, pin="12a4"), 422, "weak_pin")
    assert (await _set(gateway, person, pin="482916")).status_code == 204
    problem(await _set(gateway, person, pin="739205"), 422, "current_pin_required")
    wrong = problem(
        await _set(gateway, person, pin="739205", current_pin="111112"), 401, "invalid_pin"
    )
    assert wrong["attempts_left"] == 2
    assert (await _set(gateway, person, pin="739205", current_pin="482916")).status_code == 204
    problem(
        await _set(gateway, person, pin="580213", password="wrong one"), 401, "invalid_credentials"
    )
    assert (await _set(gateway, person, pin="580213", password=person.password)).status_code == 204
    assert (await _token(gateway, person, "580213")).status_code == 200
    problem(await _token(gateway, person, "739205"), 401, "invalid_pin")
    me = await gateway.get("/api/users/me", headers=person.auth)
    assert me.json()["pin_set"] is True  # and neither the PIN nor its hash
    assert "580213" not in me.text and "pin_hash" not in me.text


async def test_a_payment_token_is_signed_for_exactly_the_debit_asked_for(
    gateway: httpx.AsyncClient, stack: Stack, person: Person
) -> None:
    problem(await _token(gateway, person, "482916"), 409, "pin_not_set")
    assert (await _set(gateway, person, pin="482916")).status_code == 204
    answer = await _token(gateway, person, "482916")
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == 120
    keys = TokenKeys.from_settings(CommonSettings(data_dir=Path(stack.env["TIJORI_DATA_DIR"])))
    token = answer.json()["payment_token"]
    bound = {
        "user_id": person.id,
        "amount_paise": 2550,
        "receiver": "+919812345678",  # normalised as the transactions service does
        "idempotency_key": "k1",
    }
    assert keys.verify_payment(token, **bound).token_id
    with pytest.raises(PaymentTokenError):
        keys.verify_payment(token, **(bound | {"amount_paise": 2551}))


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"amount": "-5"}, 422, "invalid_amount"),
        ({"amount": "1.001"}, 422, "invalid_amount"),
        ({"receiver": "not a phone"}, 422, "invalid_receiver"),
        ({"idempotency_key": ""}, 422, "validation_error"),
        ({"extra": 1}, 422, "validation_error"),
        ({"pin": 482916}, 422, "validation_error"),
    ],
)
async def test_a_bad_payment_token_request_is_refused_and_counts_no_guess(
    gateway: httpx.AsyncClient, person: Person, overrides: dict[str, Any], status: int, code: str
) -> None:
    assert (await _set(gateway, person, pin="482916")).status_code == 204
    problem(await _token(gateway, person, "482916", **overrides), status, code)
    assert (await _token(gateway, person, "482916")).status_code == 200


async def test_thirty_concurrent_wrong_pins_from_two_devices_get_three_guesses_then_a_lock(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    person = await sign_up(gateway)
    login = await gateway.post(
        "/api/auth/token", data={"username": person.phone, "password": person.password}
    )
    other_device = Person(**(vars(person) | {"token": login.json()["access_token"]}))
    assert (await _set(gateway, person, pin="482916")).status_code == 204
    answers = await asyncio.gather(
        *(
            _token(gateway, device, f"{100000 + n:06d}")
            for n in range(15)
            for device in (person, other_device)
        )
    )
    codes = sorted(answer.json()["code"] for answer in answers)
    assert codes == ["invalid_pin"] * 3 + ["pin_locked"] * 27, codes
    locked = problem(await _token(gateway, other_device, "482916"), 423, "pin_locked")
    assert locked["status"] == 423
    problem(await _set(gateway, person, pin="739205", current_pin="482916"), 423, "pin_locked")
    mails = await stack.wait_for_mails(person.email, 2)  # welcome, then the lock
    kinds = [mail["X-Tijori-Kind"] for mail in mails]
    assert kinds.count("PIN_LOCKED") == 1, kinds
    locked_mail = next(mail for mail in mails if mail["X-Tijori-Kind"] == "PIN_LOCKED")
    assert "24 hours" in locked_mail.get_payload(decode=True).decode()


async def test_wrong_pins_are_counted_on_the_users_row_and_a_lock_outlives_the_cache(
    gateway: httpx.AsyncClient, redis_client: redis.Redis, users_db: AsyncEngine
) -> None:
    """A right PIN clears the count of wrong ones before it; the count and the lock are
    the user's row's (users.pin_failures), so emptying Redis lifts no lock."""
    person = await sign_up(gateway)
    assert (await _set(gateway, person, pin="482916")).status_code == 204
    lefts = [
        problem(await _token(gateway, person, f"22222{n}"), 401, "invalid_pin")["attempts_left"]
        for n in (1, 3)
    ]
    assert lefts == [2, 1]
    assert (await _token(gateway, person, "482916")).status_code == 200  # clears the two
    lefts = [
        problem(await _token(gateway, person, f"11111{n}"), 401, "invalid_pin")["attempts_left"]
        for n in (2, 3, 4)
    ]
    assert lefts == [2, 1, 0]
    async with users_db.connect() as connection:
        failures = (
            await connection.execute(
                text("SELECT pin_failures FROM users WHERE id = :id"), {"id": person.id}
            )
        ).scalar_one()
    assert failures == 3
    await redis_client.flushdb()
    problem(await _token(gateway, person, "482916"), 423, "pin_locked")
