"""The notifications service: e-mails for sign-ups and transfers."""

from __future__ import annotations

from fastapi import FastAPI

from tijori.common.app import create_service_app
from tijori.notifications.api import router
from tijori.notifications.config import NotificationsSettings
from tijori.notifications.consumers import register_consumers
from tijori.notifications.models import OutboxMessage


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """Build the notifications service."""
    settings = settings or NotificationsSettings()
    return create_service_app(
        name="notifications",
        title="Tijori notifications",
        description="E-mails to users, with their delivery status.",
        settings=settings,
        database_url=settings.resolved_database_url,
        routers=[router],
        outbox_model=OutboxMessage,
        setup=register_consumers,
    )
