"""The gateway routes by prefix and answers with a problem when a service is away."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from tijori.gateway.app import create_app
from tijori.gateway.config import GatewaySettings
from tijori.gateway.proxy import route


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/users", "users"),
        ("/api/users/me", "users"),
        ("/api/auth/token", "users"),
        ("/api/wallets/me/entries", "wallets"),
        ("/api/transactions", "transactions"),
        ("/api/notifications", "notifications"),
        ("/api/usersx", None),
        ("/api/authority", None),
        ("/api", None),
        ("/api/", None),
    ],
)
def test_paths_route_to_their_service(path: str, service: str | None) -> None:
    assert route(path) == service


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    down = _closed_port_url()
    app = create_app(
        GatewaySettings(
            users_url=down, wallets_url=down, transactions_url=down, notifications_url=down
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


async def test_a_service_that_is_down_is_a_503_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post("/api/users", json={"name": "x"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "service_unavailable"
    assert answer.headers["retry-after"] == "5"


async def test_unknown_api_paths_are_404_problems(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/api/nothing-here")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


async def test_ready_names_the_services_that_are_down(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/ready")
    assert answer.status_code == 503
    assert set(answer.json()["checks"]) == {"users", "wallets", "transactions", "notifications"}


async def test_a_path_with_encoded_control_characters_is_forwarded_not_crashed() -> None:
    received: list[str] = []

    async def upstream(scope: dict[str, object], receive: object, send: object) -> None:
        received.append(bytes(scope["raw_path"]).decode())  # type: ignore[arg-type]
        await send({"type": "http.response.start", "status": 404, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    app = create_app(GatewaySettings(users_url="http://users"))
    async with app.router.lifespan_context(app):
        app.state.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw"
        ) as client:
            answer = await client.get("/api/users/%03%24")
        await app.state.client.aclose()
    assert answer.status_code == 404
    assert received == ["/api/users/%03%24"]
