"""Events the notifications service turns into e-mails, and its mail delivery loop."""

from __future__ import annotations

from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.db import UnitOfWork
from tijori.common.events import Envelope
from tijori.notifications import service
from tijori.notifications.config import NotificationsSettings
from tijori.notifications.mailer import Mailer
from tijori.notifications.models import ProcessedEvent


def register_consumers(runtime: ServiceRuntime) -> None:
    """Add the notifications consumer (group ``notifications``) and the mailer."""
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    mailer = Mailer(units=runtime.unit_of_work, settings=settings)
    runtime.workers.append(mailer.run)

    async def on_user_created(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.welcome_user(
            uow, event_id=event.id, user=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    async def on_email_code_issued(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.send_email_code(
            uow, event_id=event.id, issued=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    async def on_transaction_completed(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.notify_transaction(
            uow, event_id=event.id, transaction=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    async def on_pin_locked(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.notify_pin_locked(
            uow, event_id=event.id, locked=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    async def on_topup_completed(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.notify_topup(
            uow, event_id=event.id, topup=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    async def on_withdrawal_completed(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.notify_withdrawal(
            uow, event_id=event.id, withdrawal=event.payload, sender=settings.mail_from
        )
        uow.after_commit(mailer.wake, once=True)

    runtime.consume(
        "notifications",
        processed_model=ProcessedEvent,
        handlers={
            "user.created": on_user_created,
            "user.email_code_issued": on_email_code_issued,
            "transaction.completed": on_transaction_completed,
            "pin.locked": on_pin_locked,
            "topup.completed": on_topup_completed,
            "withdrawal.completed": on_withdrawal_completed,
        },
    )
