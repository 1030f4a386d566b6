"""The aggregator: what the gateway (Caddy) routes to Python because it needs code.

Caddy forwards ``/api/<service>/...`` itself (:mod:`tijori.gateway.caddy`); this small
app answers the gateway's ``/ready`` (every service's, consumers included), ``/docs`` and
``/openapi.json`` (every service's API in one document) and, where ``tijori up`` runs
the local mail server, ``/api/dev/mailbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import aiohttp
from fastapi import FastAPI, Query, Request

from tijori.common.errors import install_problem_handlers, problem_response
from tijori.common.mailbox import MailItem, read_mailbox
from tijori.common.metrics import install_http_metrics
from tijori.common.openapi import document_openapi, install_swagger_ui, problems
from tijori.common.tracing import configure_tracing, fastapi_telemetry, install_request_context
from tijori.gateway.config import GatewaySettings
from tijori.gateway.docs import UpstreamDocsUnavailableError, fetch_service_docs, merge_documents

DESCRIPTION = """The whole Tijori API, as the gateway serves it.

Sign up (`POST /api/users`), log in for a bearer token (`POST /api/auth/token`), then
read your wallet, send money with an `Idempotency-Key`, follow the transaction to
SUCCESS or FAILED, and read your history and notifications. Every error is
`application/problem+json` with a stable `code`; every response carries `X-Request-ID`.
"""

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the aggregator."""
    settings = settings or GatewaySettings()
    # one API document per service: its first replica's
    upstreams = {name: urls[0] for name, urls in settings.upstreams().items()}
    targets = settings.ready_targets()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as session:
            app.state.http = session
            yield

    configure_tracing("aggregator")
    app = FastAPI(
        telemetry=fastapi_telemetry(),
        title="Tijori gateway",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    document_openapi(app)
    install_request_context(app)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "aggregator"}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Readiness: every service ready, its consumers included",
        responses=problems({503: ["not_ready"]}),
    )
    async def ready(request: Request) -> Any:
        session: aiohttp.ClientSession = request.app.state.http

        async def probe(base_url: str) -> str:
            try:
                async with session.get(base_url + "/ready", timeout=PROBE_TIMEOUT) as answer:
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError) as error:
                return f"unavailable: {type(error).__name__}"
            return "ok" if status == 200 else f"not ready ({status})"

        results = await asyncio.gather(*(probe(url) for url in targets.values()))
        checks = dict(zip(targets, results, strict=True))
        if all(value == "ok" for value in checks.values()):
            return {"status": "ready", "service": "gateway", "checks": checks}
        return problem_response(503, "not_ready", "some services are not ready", checks=checks)

    @app.get(
        "/api/dev/mailbox",
        tags=["development"],
        summary="The local mailbox (development only)",
        response_model=dict[str, list[MailItem]],
    )
    async def dev_mailbox(
        receiver: Annotated[str | None, Query(max_length=254)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Any:
        """What the local SMTP server of `tijori up` received; 404 outside development."""
        if settings.dev_maildir is None:
            return problem_response(404, "not_found", "there is no development mailbox here")
        items = await asyncio.to_thread(
            read_mailbox, settings.dev_maildir, receiver=receiver, limit=limit
        )
        return {"items": [item.model_dump() for item in items]}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Any:
        cached: dict[str, Any] | None = getattr(request.app.state, "combined_openapi", None)
        if cached is not None:
            return cached
        try:
            documents = await fetch_service_docs(request.app.state.http, upstreams)
        except UpstreamDocsUnavailableError as error:
            return problem_response(
                503, "service_unavailable", f"a service's API document is unavailable: {error}"
            )
        request.app.state.combined_openapi = merge_documents(app.openapi(), documents)
        return request.app.state.combined_openapi

    install_swagger_ui(app, title="Tijori API")  # from the installed package, not a CDN

    install_http_metrics(app)
    return app
