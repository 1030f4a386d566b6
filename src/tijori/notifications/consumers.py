"""Events the notifications service turns into e-mails, and its mail delivery loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.consumer import EventHandler
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

    def mailing(notify: Callable[..., Awaitable[object]], payload: str) -> EventHandler:
        """A handler that queues ``notify``'s e-mails for the event (its payload passed as
        the keyword ``payload``) and wakes the mailer once the queue is committed."""

        async def handle(uow: UnitOfWork, event: Envelope[Any]) -> None:
            await notify(
                uow, event_id=event.id, sender=settings.mail_from, **{payload: event.payload}
            )
            uow.after_commit(mailer.wake, once=True)

        return handle

    runtime.consume(
        "notifications",
        processed_model=ProcessedEvent,
        handlers={
            "user.created": mailing(service.welcome_user, "user"),
            "user.email_code_issued": mailing(service.send_email_code, "issued"),
            "transaction.completed": mailing(service.notify_transaction, "transaction"),
            "pin.locked": mailing(service.notify_pin_locked, "locked"),
            "topup.completed": mailing(service.notify_topup, "topup"),
            "withdrawal.completed": mailing(service.notify_withdrawal, "withdrawal"),
            "wallet.frozen": mailing(service.notify_wallet_freeze, "change"),
            "wallet.unfrozen": mailing(service.notify_wallet_freeze, "change"),
            "user.kyc_updated": mailing(service.notify_kyc, "update"),
        },
    )
