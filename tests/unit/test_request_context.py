"""Every request gets a correlation id: echoed, in problem bodies, in the log context."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, Response

from tijori.common.errors import NotFoundError, install_problem_handlers
from tijori.common.tracing import correlation_id_var, install_request_context


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_request_context(app)

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {"state": request.state.correlation_id, "context": correlation_id_var.get()}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFoundError("no such thing", code="not_found")

    @app.get("/upstream")
    async def upstream() -> Response:
        # an answer that already carries the header, as a proxied one does
        return Response("{}", headers={"X-Request-ID": "from-upstream"})

    return app


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t")


async def test_the_clients_request_id_is_used_and_echoed() -> None:
    async with await _client() as client:
        answer = await client.get("/echo", headers={"X-Request-ID": "abc-123"})
    assert answer.json() == {"state": "abc-123", "context": "abc-123"}
    assert answer.headers["X-Request-ID"] == "abc-123"


async def test_a_request_without_one_gets_a_new_one_in_the_problem_too() -> None:
    async with await _client() as client:
        answer = await client.get("/missing")
    assert answer.status_code == 404
    request_id = answer.headers["X-Request-ID"]
    assert len(request_id) == 36
    assert answer.json()["correlation_id"] == request_id
    assert correlation_id_var.get() is None  # nothing leaks out of the request


async def test_the_response_carries_exactly_one_request_id() -> None:
    async with await _client() as client:
        answer = await client.get("/upstream", headers={"X-Request-ID": "mine"})
    assert answer.headers.get_list("X-Request-ID") == ["mine"]
