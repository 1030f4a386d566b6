"""The transactions service: transfers between wallets, driven to SUCCESS or FAILED."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import create_service_app
from tijori.transactions.api import router
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.consumers import register_consumers
from tijori.transactions.models import OutboxMessage


def create_app(settings: TransactionsSettings | None = None) -> FastAPI:
    """Build the transactions service."""
    settings = settings or TransactionsSettings()
    return create_service_app(
        name="transactions",
        title="Tijori transactions",
        description="Transfers between wallets, with idempotency keys.",
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[router],
        outbox_model=OutboxMessage,
        setup=register_consumers,
    )
