"""Log-in sessions on the embedded default (SQLite, in process): the device summary,
refresh token rotation and reuse, time-outs, and the ``sid`` an access token carries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from tests.conftest import poll, unique_email, unique_phone
from tests.unit.conftest import users_client
from tijori.common.auth import TokenKeys
from tijori.common.clock import utcnow
from tijori.common.config import CommonSettings
from tijori.common.errors import UnauthorizedError
from tijori.users import sessions
from tijori.users.config import UsersSettings
from tijori.users.devices import UNKNOWN_DEVICE, describe_device
from tijori.users.models import RefreshToken, UserSession

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PASSWORD = "long enough"


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.6778.81 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/17.4 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        ("PostmanRuntime/7.42.0", "Postman"),
        ("curl/8.5.0", "curl"),
        ("", UNKNOWN_DEVICE),
        (None, UNKNOWN_DEVICE),
        ("\x00\x01 <script>alert(1)</script>" * 200, UNKNOWN_DEVICE),
    ],
)
def test_a_device_is_named_by_its_browser_and_system(user_agent: str | None, device: str) -> None:
    assert describe_device(user_agent) == device


def test_refresh_tokens_are_random_and_kept_only_as_their_hash() -> None:
    tokens = {sessions.new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(token) >= 43 for token in tokens)
    token = next(iter(tokens))
    assert sessions.token_hash(token) != token and len(sessions.token_hash(token)) == 64


def test_an_access_token_names_its_session_and_a_malformed_sid_is_refused(tmp_path: Path) -> None:
    keys = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path))
    token = keys.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1), session_id="s-1")
    assert keys.verify(token).session_id == "s-1"
    legacy = keys.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))
    assert keys.verify(legacy).session_id is None
    private = (tmp_path / "keys" / "jwt-ed25519.pem").read_bytes()
    now = int(utcnow().timestamp())
    claims = {"iss": "tijori", "aud": "tijori", "sub": "u", "auth": "USER", "iat": now}
    forged = jwt.encode(claims | {"exp": now + 60, "sid": 7}, private, algorithm="EdDSA")
    with pytest.raises(UnauthorizedError) as raised:
        keys.verify(forged)
    assert raised.value.code == "invalid_token"


@pytest.fixture
async def users(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = UsersSettings(
        data_dir=tmp_path,
        TIJORI_USERS_DATABASE_URL=sqlite_url("users"),
        session_idle_seconds=3600,
        refresh_token_ttl_seconds=86_400,
    )
    async with users_client(settings) as client:
        yield client


async def _sign_up(users: httpx.AsyncClient) -> str:
    email = unique_email()
    body = {"name": "Asha", "email": email, "phone": unique_phone(), "password": PASSWORD}
    assert (await users.post("/api/users", json=body)).status_code == 201
    return email


async def _log_in(users: httpx.AsyncClient, email: str, agent: str = CHROME_LINUX) -> Any:
    answer = await users.post(
        "/api/auth/token",
        data={"username": email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _refresh(users: httpx.AsyncClient, token: str) -> httpx.Response:
    return await users.post("/api/auth/refresh", json={"refresh_token": token})


async def _rows(users: httpx.AsyncClient, model: Any) -> list[Any]:
    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        return list(await uow.session.scalars(select(model)))


async def test_log_in_starts_a_session_whose_refresh_token_is_stored_only_hashed(
    users: httpx.AsyncClient,
) -> None:
    tokens = await _log_in(users, await _sign_up(users))
    [row] = await _rows(users, UserSession)
    assert (row.id, row.device, row.ended_at) == (tokens["session_id"], "Chrome on Linux", None)
    assert row.expires_at - row.created_at == timedelta(days=1)
    [stored] = await _rows(users, RefreshToken)
    assert stored.token_hash == sessions.token_hash(tokens["refresh_token"])
    assert tokens["refresh_token"] not in {stored.token_hash, row.id}
    keys: TokenKeys = users.app.state.token_keys  # type: ignore[attr-defined]
    assert keys.verify(tokens["access_token"]).session_id == row.id


async def test_a_refresh_rotates_and_a_reused_token_ends_the_session(
    users: httpx.AsyncClient,
) -> None:
    first = await _log_in(users, await _sign_up(users))
    second = (await _refresh(users, first["refresh_token"])).json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = await _refresh(users, first["refresh_token"])
    assert (reused.status_code, reused.json()["code"]) == (401, "invalid_refresh_token")
    [row] = await _rows(users, UserSession)
    assert row.end_reason == "refresh_token_reused" and row.ended_at is not None
    after = await _refresh(users, second["refresh_token"])  # the thief's or the owner's
    assert (after.status_code, after.json()["code"]) == (401, "invalid_refresh_token")


async def test_refreshes_racing_with_one_token_never_both_win(users: httpx.AsyncClient) -> None:
    tokens = await _log_in(users, await _sign_up(users))
    answers = await asyncio.gather(*(_refresh(users, tokens["refresh_token"]) for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [200, 401, 401, 401]
    [row] = await _rows(users, UserSession)
    assert row.end_reason == "refresh_token_reused"


@pytest.mark.parametrize(
    ("later", "why"),
    [(timedelta(hours=1, seconds=1), "idle"), (timedelta(days=1, seconds=1), "expired")],
)
async def test_an_idle_or_expired_session_cannot_be_refreshed_nor_listed(
    users: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, later: timedelta, why: str
) -> None:
    tokens = await _log_in(users, await _sign_up(users))
    start = at = utcnow()
    if why == "expired":  # kept busy, so that only its lifetime from the log-in ends it
        while at + timedelta(minutes=50) < start + later:
            at += timedelta(minutes=50)
            monkeypatch.setattr(sessions, "utcnow", _clock(at))
            answer = await _refresh(users, tokens["refresh_token"])
            assert answer.status_code == 200, answer.text
            tokens = answer.json()
    monkeypatch.setattr(sessions, "utcnow", _clock(start + later))
    listed = await users.get("/api/sessions", headers=_bearer(tokens))
    assert (listed.status_code, listed.json()["code"]) == (401, "session_ended")
    answer = await _refresh(users, tokens["refresh_token"])
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_refresh_token")
    monkeypatch.setattr(sessions, "utcnow", _clock(start + later - timedelta(seconds=2)))
    assert (await users.get("/api/sessions", headers=_bearer(tokens))).status_code == 200


def _clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


async def test_an_ended_session_is_refused_on_the_session_routes_and_cannot_refresh(
    users: httpx.AsyncClient,
) -> None:
    email = await _sign_up(users)
    phone = await _log_in(users, email, agent="okhttp/4.12.0")
    laptop = await _log_in(users, email)
    listed = await users.get("/api/sessions", headers=_bearer(laptop))
    assert [(item["device"], item["current"]) for item in listed.json()["items"]] == [
        ("Chrome on Linux", True),
        ("OkHttp", False),
    ]
    ended = await users.delete(f"/api/sessions/{phone['session_id']}", headers=_bearer(laptop))
    assert ended.status_code == 204
    again = await users.delete(f"/api/sessions/{phone['session_id']}", headers=_bearer(laptop))
    assert (again.status_code, again.json()["code"]) == (404, "session_not_found")
    refused = await users.get("/api/sessions", headers=_bearer(phone))
    assert (refused.status_code, refused.json()["code"]) == (401, "session_ended")
    assert (await _refresh(users, phone["refresh_token"])).status_code == 401
    assert (await _refresh(users, laptop["refresh_token"])).status_code == 200


def _bearer(tokens: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def _purge(users: httpx.AsyncClient, settings: UsersSettings) -> int:
    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        purged = await sessions.purge_expired(uow, settings=settings, now=utcnow())
        await uow.commit()
    return purged


async def test_a_session_expired_past_the_retention_goes_with_its_refresh_tokens(
    users: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: UsersSettings = users.app.state.runtime.settings  # type: ignore[attr-defined]
    email = await _sign_up(users)
    lifetime = timedelta(seconds=settings.refresh_token_ttl_seconds)
    retention = timedelta(seconds=settings.session_retention_seconds)
    # logged in, refreshed twice and left: it expired just over the retention ago
    monkeypatch.setattr(sessions, "utcnow", _clock(utcnow() - lifetime - retention - timedelta(1)))
    old = await _log_in(users, email, agent="okhttp/4.12.0")
    for _ in range(2):
        old = (await _refresh(users, old["refresh_token"])).json()
    # and one that expired a moment less than the retention ago
    monkeypatch.setattr(sessions, "utcnow", _clock(utcnow() - lifetime - retention + timedelta(1)))
    kept_old = await _log_in(users, email, agent="curl/8.5.0")
    monkeypatch.undo()
    current = await _log_in(users, email)
    assert len(await _rows(users, RefreshToken)) == 5
    assert await _purge(users, settings.model_copy(update={"session_retention_seconds": 0})) == 0
    assert await _purge(users, settings) == 1
    assert await _purge(users, settings) == 0
    left = {row.id for row in await _rows(users, UserSession)}
    assert left == {kept_old["session_id"], current["session_id"]}
    assert {row.session_id for row in await _rows(users, RefreshToken)} == left
    answer = await _refresh(users, old["refresh_token"])  # a deleted session's: refused
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_refresh_token")
    assert (await _refresh(users, current["refresh_token"])).status_code == 200


async def test_expired_sessions_are_purged_a_batch_at_a_time(
    users: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: UsersSettings = users.app.state.runtime.settings  # type: ignore[attr-defined]
    email = await _sign_up(users)
    monkeypatch.setattr(sessions, "utcnow", _clock(utcnow() - timedelta(days=400)))
    for _ in range(5):
        await _log_in(users, email)
    monkeypatch.undo()
    monkeypatch.setattr(sessions, "PURGE_BATCH", 2)
    assert [await _purge(users, settings) for _ in range(4)] == [2, 2, 1, 0]
    assert await _rows(users, UserSession) == []
    assert await _rows(users, RefreshToken) == []


async def test_the_users_service_purges_expired_sessions_as_it_starts(
    sqlite_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = UsersSettings(
        data_dir=tmp_path,
        TIJORI_USERS_DATABASE_URL=sqlite_url("users"),
        refresh_token_ttl_seconds=86_400,
    )
    async with users_client(settings) as users:
        email = await _sign_up(users)
        monkeypatch.setattr(sessions, "utcnow", _clock(utcnow() - timedelta(days=400)))
        await _log_in(users, email)
        monkeypatch.undo()
        assert len(await _rows(users, UserSession)) == 1
    async with users_client(settings) as users:  # started again: the purge runs at once
        assert "purge_sessions" in users.app.state.background

        async def purged() -> bool:
            return await _rows(users, UserSession) == [] and await _rows(users, RefreshToken) == []

        await poll(purged, timeout=10, interval=0.05, what="the expired session to go")
