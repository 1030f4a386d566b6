"""Fixtures of the integration tests: the real stack and clients of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import poll, unique_email, unique_phone
from tests.integration.stack import Stack, start_stack, stop_stack
from tijori.common.db import create_engine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="package", params=["real", "embedded"])
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Every service running: on MariaDB, Kafka and Redis, then on the embedded parts."""
    workdir: Path = tmp_path_factory.mktemp(f"stack-{request.param}")
    running = start_stack(workdir, parts=request.param)
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="package")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as client:
        yield client


@pytest.fixture(scope="package")
async def redis_client(stack: Stack) -> AsyncIterator[redis.Redis]:
    if stack.parts != "real":
        pytest.skip("observes Redis itself; the embedded cache lives inside the users process")
    client = redis.Redis.from_url(stack.env["TIJORI_REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture(scope="package")
async def wallets_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("wallets"))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="package")
async def users_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("users"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def scratch_database(stack: Stack) -> AsyncIterator[str]:
    """The URL of an empty MariaDB database of the test's own, dropped after it."""
    url = make_url(stack.database_url("wallets"))
    if not url.get_backend_name().startswith("mysql"):
        pytest.skip("about MariaDB itself; the embedded database is SQLite")
    name = f"tijori_scratch_{uuid4().hex[:8]}"
    server = create_async_engine(url.set(database=None))
    async with server.begin() as connection:
        await connection.execute(text(f"CREATE DATABASE `{name}`"))  # our own name
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with server.begin() as connection:
            await connection.execute(text(f"DROP DATABASE `{name}`"))
        await server.dispose()


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem+json body of ``answer``, which must have ``status`` and ``code``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


# the transaction PIN the tests' senders confirm their payments with
PIN = "482916"


@dataclass
class Person:
    """A signed-up user, a token for them, and their PIN once set."""

    id: str
    name: str
    email: str
    phone: str
    password: str
    token: str
    pin: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        """The header that authenticates as this person."""
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(
    client: httpx.AsyncClient,
    *,
    name: str = "Test Person",
    pin: str | None = None,
    email: str | None = None,
) -> Person:
    """Sign up a fresh user (at ``email``, else a new address) through the gateway and
    log them in; with ``pin``, set it as their transaction PIN."""
    body: dict[str, Any] = {
        "name": name,
        "email": email or unique_email(),
        "phone": unique_phone(),
        "password": "correct horse battery",
    }
    created = await client.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/auth/token", data={"username": body["email"], "password": body["password"]}
    )
    assert login.status_code == 200, login.text
    user = created.json()
    person = Person(
        id=user["id"],
        name=user["name"],
        email=user["email"],
        phone=user["phone"],
        password=body["password"],
        token=login.json()["access_token"],
    )
    if pin is not None:
        await set_pin(client, person, pin)
    return person


async def set_pin(client: httpx.AsyncClient, person: Person, pin: str = PIN) -> None:
    """Set ``person``'s first transaction PIN."""
    answer = await client.put("/api/users/me/pin", json={"pin": pin}, headers=person.auth)
    assert answer.status_code == 204, answer.text
    person.pin = pin


async def wallet_of(client: httpx.AsyncClient, person: Person, timeout: float = 30) -> Any:
    """Wait for ``person``'s wallet to be opened; return it."""

    async def probe() -> Any:
        answer = await client.get("/api/wallets/me", headers=person.auth)
        return answer.json() if answer.status_code == 200 else None

    return await poll(probe, timeout=timeout, what=f"the wallet of {person.email}")


@pytest.fixture
async def person(gateway: httpx.AsyncClient) -> Person:
    return await sign_up(gateway)
