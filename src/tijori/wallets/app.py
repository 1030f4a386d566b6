"""The wallets service: wallets, balances and the double-entry ledger."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import create_service_app
from tijori.wallets import admin_api, api
from tijori.wallets.config import WalletsSettings
from tijori.wallets.consumers import register_consumers
from tijori.wallets.models import OutboxMessage


def create_app(settings: WalletsSettings | None = None) -> FastAPI:
    """Build the wallets service."""
    settings = settings or WalletsSettings()
    return create_service_app(
        name="wallets",
        title="Tijori wallets",
        description="Wallets, balances and the double-entry ledger.",
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[api.router, admin_api.router],
        outbox_model=OutboxMessage,
        setup=register_consumers,
    )
