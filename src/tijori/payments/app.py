"""The payments service: top-ups through a payment gateway and withdrawals to a bank."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import create_service_app
from tijori.payments.api import router
from tijori.payments.config import PaymentsSettings
from tijori.payments.consumers import register_consumers
from tijori.payments.models import OutboxMessage


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    """Build the payments service."""
    settings = settings or PaymentsSettings()
    return create_service_app(
        name="payments",
        title="Tijori payments",
        description="Money in through a payment gateway (Razorpay's API) and out to banks.",
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[router],
        outbox_model=OutboxMessage,
        setup=register_consumers,
    )
