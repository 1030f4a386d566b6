"""The transactions service: transfers between wallets (the saga arrives with issue 3)."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import create_service_app
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.models import OutboxMessage


def create_app(settings: TransactionsSettings | None = None) -> FastAPI:
    """Build the transactions service."""
    settings = settings or TransactionsSettings()
    return create_service_app(
        name="transactions",
        title="Tijori transactions",
        description="Transfers between wallets.",
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[],
        outbox_model=OutboxMessage,
    )
