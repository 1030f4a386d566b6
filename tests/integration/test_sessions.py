"""Log-in sessions on the running stack, through the gateway: refresh token rotation and
reuse detection, listing and ending sessions, log out everywhere, a password change
ending the other sessions, and bad input that is always a 4xx problem."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.conftest import PIN, Person, problem, set_pin, sign_up
from tests.integration.stack import Stack
from tijori.common.auth import TokenKeys
from tijori.common.config import CommonSettings

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
async def other(gateway: httpx.AsyncClient) -> Person:
    return await sign_up(gateway, name="Someone Else")


class Device:
    """One log-in of a person: the tokens it holds now."""

    def __init__(self, tokens: dict[str, Any]) -> None:
        self.tokens = tokens

    @property
    def session_id(self) -> str:
        return str(self.tokens["session_id"])

    @property
    def refresh_token(self) -> str:
        return str(self.tokens["refresh_token"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


async def _log_in(
    gateway: httpx.AsyncClient, person: Person, agent: str = CHROME_LINUX, password: str = ""
) -> Device:
    answer = await gateway.post(
        "/api/auth/token",
        data={"username": person.email, "password": password or person.password},
        headers={"User-Agent": agent},
    )
    assert answer.status_code == 200, answer.text
    return Device(answer.json())


async def _refresh(gateway: httpx.AsyncClient, token: str) -> httpx.Response:
    return await gateway.post("/api/auth/refresh", json={"refresh_token": token})


async def _rotate(gateway: httpx.AsyncClient, device: Device) -> Device:
    answer = await _refresh(gateway, device.refresh_token)
    assert answer.status_code == 200, answer.text
    return Device(answer.json())


async def _sessions(gateway: httpx.AsyncClient, device: Device) -> list[dict[str, Any]]:
    answer = await gateway.get("/api/sessions", headers=device.auth)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _keys(stack: Stack) -> TokenKeys:
    return TokenKeys.from_settings(CommonSettings(data_dir=Path(stack.env["TIJORI_DATA_DIR"])))


async def test_log_in_returns_a_refresh_token_and_an_access_token_naming_its_session(
    gateway: httpx.AsyncClient, stack: Stack, person: Person
) -> None:
    device = await _log_in(gateway, person)
    assert device.tokens["token_type"] == "bearer" and device.tokens["expires_in"] > 0
    principal = _keys(stack).verify(device.tokens["access_token"])
    assert (principal.user_id, principal.session_id) == (person.id, device.session_id)
    # an ended session's access token lives on at other services at most this long
    claims = jwt.decode(device.tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == device.tokens["expires_in"] <= 900


async def test_a_refresh_rotates_the_tokens_within_the_same_session(
    gateway: httpx.AsyncClient, stack: Stack, person: Person
) -> None:
    first = await _log_in(gateway, person)
    second = await _rotate(gateway, first)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.tokens["access_token"] != first.tokens["access_token"]
    assert _keys(stack).verify(second.tokens["access_token"]).session_id == first.session_id
    assert (await gateway.get("/api/users/me", headers=second.auth)).json()["id"] == person.id
    third = await _rotate(gateway, second)
    [listed] = [item for item in await _sessions(gateway, third) if item["current"]]
    assert listed["id"] == first.session_id and listed["current"] is True
    assert listed["last_used_at"] > listed["created_at"]


async def test_a_reused_refresh_token_ends_the_whole_session(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    owner = await _log_in(gateway, person)
    elsewhere = await _log_in(gateway, person, agent=FIREFOX_WINDOWS)
    stolen = owner.refresh_token
    rotated = await _rotate(gateway, owner)  # the owner refreshes first ...
    problem(await _refresh(gateway, stolen), 401, "invalid_refresh_token")  # ... then the thief
    # the token of the rotation stops working too, and so does the session's access token
    problem(await _refresh(gateway, rotated.refresh_token), 401, "invalid_refresh_token")
    problem(await gateway.get("/api/sessions", headers=rotated.auth), 401, "session_ended")
    # the person's other session is untouched
    open_ids = {item["id"] for item in await _sessions(gateway, elsewhere)}
    assert elsewhere.session_id in open_ids and owner.session_id not in open_ids
    assert (await _refresh(gateway, elsewhere.refresh_token)).status_code == 200


async def test_refreshes_racing_with_one_token_leave_one_winner_and_end_the_session(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    device = await _log_in(gateway, person)
    answers = await asyncio.gather(*(_refresh(gateway, device.refresh_token) for _ in range(5)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 401, 401, 401, 401], [answer.text for answer in answers]
    [won] = [Device(answer.json()) for answer in answers if answer.status_code == 200]
    problem(await _refresh(gateway, won.refresh_token), 401, "invalid_refresh_token")


async def test_sessions_are_listed_with_their_device_and_the_current_one_marked(
    gateway: httpx.AsyncClient, person: Person, other: Person
) -> None:
    laptop = await _log_in(gateway, person)
    phone = await _log_in(gateway, person, agent=SAFARI_IPHONE)
    await _log_in(gateway, other)  # someone else's session is never listed
    listed = await _sessions(gateway, phone)
    # the fixture's own log-in (python-httpx) is a session too
    by_id = {item["id"]: item for item in listed}
    assert len(listed) == 3 and set(by_id) >= {laptop.session_id, phone.session_id}
    assert by_id[phone.session_id]["device"] == "Safari on iOS"
    assert by_id[laptop.session_id]["device"] == "Chrome on Linux"
    assert [item["id"] for item in listed if item["current"]] == [phone.session_id]
    assert listed[0]["id"] == phone.session_id  # the most recently used first
    assert {"id", "device", "created_at", "last_used_at", "current"} == set(listed[0])
    assert person.token not in str(listed) and laptop.refresh_token not in str(listed)


async def test_ending_one_session_stops_its_tokens_and_leaves_the_others(
    gateway: httpx.AsyncClient, person: Person, other: Person
) -> None:
    laptop = await _log_in(gateway, person)
    phone = await _log_in(gateway, person, agent=SAFARI_IPHONE)
    stranger = await _log_in(gateway, other)
    # someone else's session is not found, and stays open
    problem(
        await gateway.delete(f"/api/sessions/{phone.session_id}", headers=stranger.auth),
        404,
        "session_not_found",
    )
    assert (await _refresh(gateway, phone.refresh_token)).status_code == 200
    phone = Device((await _log_in(gateway, person, agent=SAFARI_IPHONE)).tokens)
    ended = await gateway.delete(f"/api/sessions/{phone.session_id}", headers=laptop.auth)
    assert ended.status_code == 204 and ended.content == b""
    problem(await _refresh(gateway, phone.refresh_token), 401, "invalid_refresh_token")
    problem(await gateway.get("/api/sessions", headers=phone.auth), 401, "session_ended")
    problem(
        await gateway.delete(f"/api/sessions/{phone.session_id}", headers=laptop.auth),
        404,
        "session_not_found",
    )
    assert phone.session_id not in {item["id"] for item in await _sessions(gateway, laptop)}
    assert (await _refresh(gateway, laptop.refresh_token)).status_code == 200


async def test_an_ended_session_gets_no_payment_token_even_with_the_pin(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    await set_pin(gateway, person)
    laptop = await _log_in(gateway, person)
    stolen = await _log_in(gateway, person, agent=SAFARI_IPHONE)
    ask = {"pin": PIN, "amount": "1.00", "idempotency_key": "after-the-end"}
    confirmed = await gateway.post("/api/auth/payment-token", json=ask, headers=stolen.auth)
    assert confirmed.status_code == 200, confirmed.text
    ended = await gateway.delete(f"/api/sessions/{stolen.session_id}", headers=laptop.auth)
    assert ended.status_code == 204
    refused = await gateway.post("/api/auth/payment-token", json=ask, headers=stolen.auth)
    problem(refused, 401, "session_ended")
    # the session that ended it pays on
    mine = await gateway.post("/api/auth/payment-token", json=ask, headers=laptop.auth)
    assert mine.status_code == 200, mine.text


async def test_ending_the_current_session_is_a_log_out(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    device = await _log_in(gateway, person)
    answer = await gateway.delete(f"/api/sessions/{device.session_id}", headers=device.auth)
    assert answer.status_code == 204
    problem(await _refresh(gateway, device.refresh_token), 401, "invalid_refresh_token")
    problem(await gateway.delete("/api/sessions", headers=device.auth), 401, "session_ended")


async def test_log_out_everywhere_ends_every_session_but_this_one(
    gateway: httpx.AsyncClient, person: Person, other: Person
) -> None:
    here = await _log_in(gateway, person)
    away = [await _log_in(gateway, person, agent=agent) for agent in (SAFARI_IPHONE, "")]
    theirs = await _log_in(gateway, other)
    assert (await gateway.delete("/api/sessions", headers=here.auth)).status_code == 204
    for device in away:
        problem(await _refresh(gateway, device.refresh_token), 401, "invalid_refresh_token")
        problem(await gateway.get("/api/sessions", headers=device.auth), 401, "session_ended")
    [left] = await _sessions(gateway, here)
    assert left["id"] == here.session_id and left["current"] is True
    assert (await _refresh(gateway, here.refresh_token)).status_code == 200
    assert (await _refresh(gateway, theirs.refresh_token)).status_code == 200  # not theirs


async def test_changing_the_password_ends_every_other_session(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    here = await _log_in(gateway, person)
    phone = await _log_in(gateway, person, agent=SAFARI_IPHONE)

    async def change(body: dict[str, Any]) -> httpx.Response:
        return await gateway.put("/api/users/me/password", json=body, headers=here.auth)

    new = "a much longer horse"
    problem(
        await change({"current_password": "wrong one", "password": new}), 401, "invalid_credentials"
    )
    problem(
        await change({"current_password": person.password, "password": "short"}),
        422,
        "weak_password",
    )
    problem(await change({"password": new}), 422, "validation_error")
    # nothing was changed by the refusals
    assert (await _refresh(gateway, phone.refresh_token)).status_code == 200
    phone = await _log_in(gateway, person, agent=SAFARI_IPHONE)
    answer = await change({"current_password": person.password, "password": new})
    assert answer.status_code == 204, answer.text
    problem(await _refresh(gateway, phone.refresh_token), 401, "invalid_refresh_token")
    problem(await gateway.get("/api/sessions", headers=phone.auth), 401, "session_ended")
    assert [item["id"] for item in await _sessions(gateway, here)] == [here.session_id]
    assert (await _refresh(gateway, here.refresh_token)).status_code == 200
    old = await gateway.post(
        "/api/auth/token", data={"username": person.email, "password": person.password}
    )
    problem(old, 401, "invalid_credentials")
    await _log_in(gateway, person, password=new)


async def test_wrong_current_passwords_are_limited_per_user_as_log_ins_are(
    gateway: httpx.AsyncClient, person: Person, other: Person
) -> None:
    wrong = {"current_password": "not it", "password": "a much longer horse"}
    for _ in range(5):
        answer = await gateway.put("/api/users/me/password", json=wrong, headers=person.auth)
        problem(answer, 401, "invalid_credentials")
    right = wrong | {"current_password": person.password}
    limited = await gateway.put("/api/users/me/password", json=right, headers=person.auth)
    problem(limited, 429, "too_many_attempts")
    assert int(limited.headers["retry-after"]) > 0
    # nobody else is locked out from the same address, not even of a password change
    await _log_in(gateway, other)
    answer = await gateway.put(
        "/api/users/me/password",
        json=right | {"current_password": other.password},
        headers=other.auth,
    )
    assert answer.status_code == 204, answer.text


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"json": {}}, 422, "validation_error"),
        ({"json": {"refresh_token": None}}, 422, "validation_error"),
        ({"json": {"refresh_token": 12345}}, 422, "validation_error"),
        ({"json": {"refresh_token": ["a"]}}, 422, "validation_error"),
        ({"json": {"refresh_token": ""}}, 422, "validation_error"),
        ({"json": {"refresh_token": "x" * 513}}, 422, "validation_error"),
        ({"json": {"refresh_token": "a", "extra": 1}}, 422, "validation_error"),
        ({"json": ["refresh_token"]}, 422, "validation_error"),
        ({"json": "refresh_token"}, 422, "validation_error"),
        ({"content": b'{"refresh_token": "a", "refresh_token": "b"}'}, 422, "duplicate_key"),
        ({"content": b'{"refresh_token": '}, 422, "validation_error"),
        ({"data": {"refresh_token": "abc"}}, 422, "validation_error"),
        ({"json": {"refresh_token": "not one we gave out"}}, 401, "invalid_refresh_token"),
        ({"json": {"refresh_token": "\u0000\ud7ff' OR 1=1 --"}}, 401, "invalid_refresh_token"),
        ({"json": {"refresh_token": "é" * 512}}, 401, "invalid_refresh_token"),
    ],
)
async def test_a_bad_refresh_request_is_a_4xx_problem(
    gateway: httpx.AsyncClient, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    headers = {"Content-Type": "application/json"} if "content" in request_kwargs else {}
    answer = await gateway.post("/api/auth/refresh", headers=headers, **request_kwargs)
    problem(answer, status, code)


@pytest.mark.parametrize(
    "session_id",
    ["nope", "3f0c2b9e-8a41-4d6f-9b7a-2e5d1c4a6f10", "x" * 300, "%00", "' OR '1'='1", "é"],
)
async def test_ending_a_session_that_does_not_exist_is_404(
    gateway: httpx.AsyncClient, person: Person, session_id: str
) -> None:
    answer = await gateway.delete(f"/api/sessions/{session_id}", headers=person.auth)
    problem(answer, 404, "session_not_found")


async def test_the_session_routes_need_a_valid_token(gateway: httpx.AsyncClient) -> None:
    problem(await gateway.get("/api/sessions"), 401, "unauthorized")
    problem(await gateway.delete("/api/sessions"), 401, "unauthorized")
    problem(await gateway.delete("/api/sessions/abc"), 401, "unauthorized")
    bad = {"Authorization": "Bearer not.a.token"}
    problem(await gateway.get("/api/sessions", headers=bad), 401, "invalid_token")
    problem(
        await gateway.put(
            "/api/users/me/password", json={"current_password": "a", "password": "b" * 9}
        ),
        401,
        "unauthorized",
    )
