"""Hot routes (tijori.common.hot): a well-formed request is answered ahead of FastAPI's
stack, with the request id, metrics and problem+json of the stack; every other request
reaches the FastAPI route with its body intact and gets the answer it would have had
without the hot path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.datastructures import State

from tijori.common.auth import CurrentPrincipal, Principal
from tijori.common.body import StrictJsonRoute
from tijori.common.errors import ConflictError, install_problem_handlers
from tijori.common.hot import HOT_BODY_MAX, HotApp, HotRoute
from tijori.common.metrics import HTTP_REQUESTS
from tijori.common.tracing import install_request_context

from .signing import new_token_keys


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=100_000)
    count: int = Field(ge=1)


class Receipt(BaseModel):
    item: str
    count: int
    user: str
    via: str


Endpoint = Callable[[State, Principal, Order], Awaitable[BaseModel]]


def _app(endpoint: Endpoint | None = None) -> tuple[HotApp, list[Order], str]:
    served: list[Order] = []

    async def hot(_: State, principal: Principal, order: Order) -> BaseModel:
        served.append(order)
        if endpoint is not None:
            return await endpoint(_, principal, order)
        return Receipt(item=order.item, count=order.count, user=principal.user_id, via="hot")

    app = HotApp()
    install_problem_handlers(app)
    install_request_context(app)
    keys = new_token_keys()
    app.state.token_keys = keys
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/orders")
    async def order(body: Order, principal: CurrentPrincipal) -> Receipt:
        return Receipt(item=body.item, count=body.count, user=principal.user_id, via="fastapi")

    app.include_router(router)
    app.serve_hot([HotRoute(method="POST", path="/orders", body=Order, endpoint=hot)])
    token = keys.issue(user_id="asha", authority="USER", ttl=timedelta(minutes=5))
    return app, served, token


async def _post(app: HotApp, content: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/orders", content=content, headers=headers)


def _json(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Request-ID": "req-1",
    }


async def test_a_well_formed_request_is_answered_on_the_hot_path() -> None:
    app, served, token = _app()
    counted = HTTP_REQUESTS.labels("/orders", "POST", "2xx")
    before = counted._value.get()
    answer = await _post(app, b'{"item": "chai", "count": 2}', _json(token))
    assert answer.status_code == 200
    assert answer.json() == {"item": "chai", "count": 2, "user": "asha", "via": "hot"}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["X-Request-ID"] == "req-1"
    assert served == [Order(item="chai", count=2)]
    assert counted._value.get() == before + 1


DECLINED = [
    pytest.param(b'{"item": "chai", "count": 2', {}, id="not JSON"),
    pytest.param(b'{"item": "chai", "item": "tea", "count": 2}', {}, id="a key twice"),
    pytest.param(b'{"item": "chai"}', {}, id="a field missing"),
    pytest.param(b'{"item": "chai", "count": 2, "extra": 1}', {}, id="a field too many"),
    pytest.param(b'{"item": "chai", "count": 0}', {}, id="a field out of range"),
    pytest.param(b"[]", {}, id="not an object"),
    pytest.param(b"", {}, id="no body"),
    pytest.param(b'{"item": "chai", "count": 2}', {"Authorization": ""}, id="no token"),
    pytest.param(
        b'{"item": "chai", "count": 2}', {"Authorization": "Bearer x.y.z"}, id="bad token"
    ),
    pytest.param(b'{"item": "chai", "count": 2}', {"Authorization": "Basic YTpi"}, id="not bearer"),
    pytest.param(b'{"item": "chai", "count": 2}', {"Content-Type": "text/plain"}, id="not json"),
]


@pytest.mark.parametrize(("content", "changed"), DECLINED)
async def test_anything_else_gets_the_answer_of_the_full_stack(
    content: bytes, changed: dict[str, str]
) -> None:
    app, served, token = _app()
    headers = _json(token) | changed
    hot = await _post(app, content, headers)
    app.hot_routes = {}  # the same app without its hot path
    plain = await _post(app, content, headers)
    assert served == []
    assert (hot.status_code, hot.headers["content-type"]) == (
        plain.status_code,
        plain.headers["content-type"],
    )
    assert hot.json() == plain.json()
    assert hot.status_code in (401, 422) or hot.json()["via"] == "fastapi"


async def _asgi(
    app: HotApp, chunks: list[bytes], token: str, *, more: list[tuple[bytes, bytes]] = ()
) -> tuple[int, bytes]:
    """POST /orders with its body sent in ``chunks``, as a server reading a slow
    client hands it on."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"t"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            *more,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("t", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_a_body_in_pieces_is_read_whole() -> None:
    app, served, token = _app()
    status, body = await _asgi(app, [b'{"item": "ch', b'ai", "cou', b'nt": 3}'], token)
    assert status == 200, body
    assert served == [Order(item="chai", count=3)]


async def test_a_long_body_reaches_the_full_stack_intact() -> None:
    app, served, token = _app()
    item = "x" * (HOT_BODY_MAX + 5000)
    document = f'{{"item": "{item}", "count": 4}}'.encode()
    pieces = [document[i : i + 4096] for i in range(0, len(document), 4096)]
    status, body = await _asgi(app, pieces, token)
    assert status == 200, body[:300]
    receipt = Receipt.model_validate_json(body)
    assert (receipt.via, receipt.item, receipt.count) == ("fastapi", item, 4)
    assert served == []


async def _conflict(*_: Any) -> BaseModel:
    raise ConflictError("already ordered", code="conflict", order="o-1")


async def _database_away(*_: Any) -> BaseModel:
    raise OperationalError("SELECT 1", {}, Exception("lost connection"))


async def _bug(*_: Any) -> BaseModel:
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [
        (_conflict, 409, "conflict"),
        (_database_away, 503, "service_unavailable"),
        (_bug, 500, "internal_error"),
    ],
)
async def test_what_the_endpoint_raises_is_problem_json(
    endpoint: Endpoint, status: int, code: str
) -> None:
    app, served, token = _app(endpoint)
    answer = await _post(app, b'{"item": "chai", "count": 2}', _json(token))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["correlation_id"]) == (code, "req-1")
    assert answer.headers["X-Request-ID"] == "req-1"
    assert len(served) == 1  # answered on the hot path, not run again by the full stack
    if code == "conflict":
        assert problem["order"] == "o-1"


async def test_a_header_sent_twice_is_the_full_stacks_to_read() -> None:
    app, served, token = _app()
    keys = app.state.token_keys
    ravi = keys.issue(user_id="ravi", authority="USER", ttl=timedelta(minutes=5))
    twice = [(b"authorization", f"Bearer {ravi}".encode())]
    status, body = await _asgi(app, [b'{"item": "chai", "count": 1}'], token, more=twice)
    assert status == 200, body
    receipt = Receipt.model_validate_json(body)
    assert (receipt.via, receipt.user) == ("fastapi", "asha")  # the first, as FastAPI reads
    assert served == []
