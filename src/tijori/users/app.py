"""The users service: sign-up, log-in and users."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import ServiceRuntime, create_service_app
from tijori.users import kyc, pin, repository, sessions, sessions_api, verification_api
from tijori.users.api import PAYMENT_TOKEN_ROUTE, router
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage


def create_app(settings: UsersSettings | None = None) -> FastAPI:
    """Build the users service."""
    settings = settings or UsersSettings()

    def setup(runtime: ServiceRuntime) -> None:
        secret = pin.load_secret(settings)
        runtime.components["pin_secret"] = secret
        runtime.components["pin_desk"] = pin.PinDesk(
            check=runtime.driver_read(repository.PAYMENT_CHECK),
            units=runtime.unit_of_work,
            keys=runtime.token_keys,
            settings=settings,
            secret=secret,
        )
        kyc.register_kyc_loop(runtime, settings)
        sessions.register_purge_loop(runtime, settings)

    return create_service_app(
        name="users",
        title="Tijori users",
        description=(
            "Sign-up and e-mail verification, log-in (JWT) and its sessions, users, their "
            "transaction PINs and KYC."
        ),
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[router, sessions_api.router, verification_api.router, kyc.router],
        outbox_model=OutboxMessage,
        setup=setup,
        signs_tokens=True,  # the only service that issues tokens
        hot_routes=[PAYMENT_TOKEN_ROUTE],
    )
