"""The gateway routes by prefix and answers with a problem when a service is away."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

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


@contextlib.asynccontextmanager
async def _upstream(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free local port; its base URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task


@contextlib.asynccontextmanager
async def _gateway_to(users_url: str, **settings: float) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(users_url=users_url, **settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


async def test_a_path_with_encoded_control_characters_is_forwarded_not_crashed() -> None:
    received: list[str] = []

    async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(bytes(scope["raw_path"]).decode())
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with _upstream(upstream) as url, _gateway_to(url) as gateway:
        answer = await gateway.get("/api/users/%03%24")
    assert answer.status_code == 404
    assert received == ["/api/users/%03%24"]


async def test_the_service_gets_the_request_and_the_client_its_answer() -> None:
    seen: list[dict[bytes, bytes]] = []

    async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["headers"]))
        body = (await receive())["body"]
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"set-cookie", b"a=1"),
                    (b"server", b"uvicorn"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"echo": ' + body + b"}"})

    async with _upstream(upstream) as url, _gateway_to(url) as gateway:
        answer = await gateway.post(
            "/api/users?x=1",
            json={"name": "Asha"},
            headers={"X-Request-ID": "req-1", "Authorization": "Bearer t", "Connection": "close"},
        )
        gateway.cookies.clear()  # a different client, which has no cookie
        await gateway.post("/api/users", json={})
    assert answer.status_code == 201
    assert answer.json() == {"echo": {"name": "Asha"}}
    assert answer.headers["x-request-id"] == "req-1"
    assert answer.headers["set-cookie"] == "a=1"
    assert "server" not in answer.headers  # the gateway's own server says who it is
    first, second = seen
    assert first[b"x-request-id"] == b"req-1"
    assert first[b"authorization"] == b"Bearer t"
    assert first[b"traceparent"].startswith(b"00-")
    assert b"x-forwarded-for" in first
    assert b"cookie" not in second  # the gateway keeps no cookies between clients
    assert second[b"x-request-id"] != b"req-1"


async def test_a_body_over_a_mebibyte_is_a_413_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post("/api/users", content=b"x" * (1024 * 1024 + 1))
    assert (answer.status_code, answer.json()["code"]) == (413, "payload_too_large")


async def test_a_service_that_does_not_answer_in_time_is_a_504_problem() -> None:
    async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(5)

    async with (
        _upstream(upstream) as url,
        _gateway_to(url, upstream_timeout_seconds=0.3) as gateway,
    ):
        answer = await gateway.get("/api/users/me", headers={"X-Request-ID": "slow-1"})
    assert (answer.status_code, answer.json()["code"]) == (504, "upstream_timeout")
    assert answer.json()["correlation_id"] == "slow-1"
    assert answer.headers["x-request-id"] == "slow-1"


async def test_a_service_that_hangs_up_without_answering_is_a_502_problem() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()  # the request line, then nothing back
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with _gateway_to(f"http://127.0.0.1:{port}") as gateway:
            answer = await gateway.get("/api/users/me")
    finally:
        server.close()
        await server.wait_closed()
    assert (answer.status_code, answer.json()["code"]) == (502, "bad_gateway")
