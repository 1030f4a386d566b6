"""The payment gateway sandbox: Razorpay's API, checkout and webhooks, for tests.

``tijori serve sandbox`` runs it (port 8090). Point Tijori's ``TIJORI_PSP_BASE_URL``
at it, or at ``https://api.razorpay.com``: nothing else changes (docs/sandbox.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tijori.common.openapi import install_swagger_ui
from tijori.sandbox import api, checkout, control, operations
from tijori.sandbox.config import SandboxSettings
from tijori.sandbox.errors import error_body, install_error_handlers
from tijori.sandbox.store import Store
from tijori.sandbox.switches import Switches
from tijori.sandbox.webhooks import WebhookSender

log = logging.getLogger(__name__)

DESCRIPTION = """A Razorpay-compatible payment gateway for tests: orders, payments,
refunds and payouts under `/v1` (HTTP Basic auth with the key id and secret), a hosted
checkout page at `/v1/checkout/embedded`, signed webhooks, and switches for tests
under `/_sandbox/`. **No real money moves.**"""


async def _run_background(
    settings: SandboxSettings, store: Store, switches: Switches, sender: WebhookSender
) -> None:
    """Advance payouts and deliver webhooks, every tick, for the life of the app."""
    while True:
        try:
            await operations.take_payout_steps(store, switches)
            if not switches.is_down():
                await sender.deliver_due()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the sandbox's background loop failed; going on")
        await asyncio.sleep(settings.sandbox_tick_seconds)


def create_app(
    settings: SandboxSettings | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the sandbox (``webhook_transport``: where its webhooks go, in a test)."""
    settings = settings or SandboxSettings()
    switches = Switches()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings.sandbox_state_file)
        sender = WebhookSender(settings, store, transport=webhook_transport)
        app.state.store = store
        app.state.sender = sender
        background = asyncio.create_task(
            _run_background(settings, store, switches, sender), name="sandbox-background"
        )
        log.info(
            "payment gateway sandbox: state in %s, webhooks to %s",
            settings.sandbox_state_file,
            settings.sandbox_webhook_url,
        )
        try:
            yield
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            await sender.aclose()
            await store.close()

    app = FastAPI(
        title="Tijori payment gateway sandbox",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.switches = switches
    install_error_handlers(app)
    install_swagger_ui(app, title="Tijori payment gateway sandbox")

    @app.middleware("http")
    async def down_switch(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/v1") and switches.is_down():
            body = error_body(
                "The server is temporarily unavailable (the sandbox's down switch).",
                code="SERVER_ERROR",
                reason="server_error",
                source="internal",
                step="NA",
            )
            return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
        return await call_next(request)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "sandbox"}

    app.include_router(api.router)
    app.include_router(checkout.router)
    app.include_router(control.router)
    return app
