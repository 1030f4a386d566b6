"""Events the notifications service turns into e-mails, and its mail delivery loop."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.app import ServiceRuntime
from tijori.common.consumer import IdempotentConsumer
from tijori.common.events import Envelope
from tijori.notifications import service
from tijori.notifications.config import NotificationsSettings
from tijori.notifications.mailer import Mailer
from tijori.notifications.models import ProcessedEvent


def register_consumers(runtime: ServiceRuntime) -> None:
    """Add the notifications consumer (group ``notifications``) and the mailer."""
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    mailer = Mailer(sessions=runtime.sessions, settings=settings)
    runtime.workers.append(mailer.run)

    async def on_user_created(session: AsyncSession, event: Envelope[Any]) -> None:
        await service.welcome_user(
            session, event_id=event.id, user=event.payload, sender=settings.mail_from
        )

    async def on_transaction_completed(session: AsyncSession, event: Envelope[Any]) -> None:
        await service.notify_transaction(
            session, event_id=event.id, transaction=event.payload, sender=settings.mail_from
        )

    if runtime.bus is None:
        return
    runtime.consumers.append(
        IdempotentConsumer(
            name="notifications",
            bus=runtime.bus,
            sessions=runtime.sessions,
            processed_model=ProcessedEvent,
            handlers={
                "user.created": on_user_created,
                "transaction.completed": on_transaction_completed,
            },
            after_commit=mailer.wake,
        )
    )
