"""The users service on the embedded default: SQLite and the in-process cache, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import unique_email, unique_phone
from tijori.common.events import parse_event
from tijori.users.app import create_app
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage


@pytest.fixture
async def users(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = UsersSettings(data_dir=tmp_path, TIJORI_USERS_DATABASE_URL=sqlite_url("users"))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def test_sign_up_log_in_and_read_me_on_sqlite(users: httpx.AsyncClient) -> None:
    email = unique_email()
    created = await users.post(
        "/api/users",
        json={
            "name": "Embedded",
            "email": email,
            "phone": unique_phone(),
            "password": "long enough",
        },
    )
    assert created.status_code == 201, created.text
    token = (
        await users.post("/api/auth/token", data={"username": email, "password": "long enough"})
    ).json()
    me = await users.get(
        "/api/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.json()["email"] == email

    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    created_event, code_event = (parse_event(row.body) for row in rows)
    assert created_event.type == "user.created" and created_event.payload.email == email
    assert created_event.payload.verification_required  # the default
    assert code_event.type == "user.email_code_issued" and code_event.payload.email == email
    assert all(row.published_at is None for row in rows)  # no broker: they wait in the outbox


async def test_duplicates_are_conflicts_on_sqlite_too(users: httpx.AsyncClient) -> None:
    body = {
        "name": "A",
        "email": unique_email(),
        "phone": unique_phone(),
        "password": "long enough",
    }
    assert (await users.post("/api/users", json=body)).status_code == 201
    again = await users.post("/api/users", json=body | {"phone": unique_phone()})
    assert (again.status_code, again.json()["code"]) == (409, "email_taken")
    again = await users.post("/api/users", json=body | {"email": unique_email()})
    assert (again.status_code, again.json()["code"]) == (409, "phone_taken")


async def test_ready_checks_the_database_and_cache_without_a_broker(
    users: httpx.AsyncClient,
) -> None:
    ready = await users.get("/ready")
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}


async def test_unknown_routes_and_methods_are_problems(users: httpx.AsyncClient) -> None:
    missing = await users.get("/api/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = await users.delete("/api/users")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert wrong.headers["content-type"] == "application/problem+json"
