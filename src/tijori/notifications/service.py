"""Business rules of the notifications service: which e-mails an event causes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.events import TransactionCompleted, UserCreated
from tijori.common.tracing import correlation_id_var, current_traceparent
from tijori.notifications.messages import (
    MailContent,
    transfer_failed,
    transfer_received,
    transfer_sent,
    welcome,
)
from tijori.notifications.models import Notification
from tijori.notifications.repository import NotificationRepository


def _notification(
    *, event_id: str, user_id: str, receiver: str, sender: str, content: MailContent
) -> Notification:
    return Notification(
        event_id=event_id,
        user_id=user_id,
        kind=content.kind,
        sender=sender,
        receiver=receiver,
        subject=content.subject,
        message=content.body,
        channel="EMAIL",
        status="PENDING",
        attempts=0,
        correlation_id=correlation_id_var.get(),
        traceparent=current_traceparent(),
    )


async def welcome_user(
    session: AsyncSession, *, event_id: str, user: UserCreated, sender: str
) -> Notification:
    """Queue the welcome e-mail of a new user."""
    notification = _notification(
        event_id=event_id,
        user_id=user.user_id,
        receiver=user.email,
        sender=sender,
        content=welcome(user),
    )
    NotificationRepository(session).add(notification)
    return notification


async def notify_transaction(
    session: AsyncSession, *, event_id: str, transaction: TransactionCompleted, sender: str
) -> list[Notification]:
    """Queue the e-mails of a settled transaction: both parties on SUCCESS, the sender on FAILED."""
    if transaction.status == "SUCCESS":
        mails = [
            (transaction.sender, transfer_sent(transaction)),
            (transaction.receiver, transfer_received(transaction)),
        ]
    else:
        mails = [(transaction.sender, transfer_failed(transaction))]
    notifications = [
        _notification(
            event_id=event_id,
            user_id=party.user_id,
            receiver=party.email,
            sender=sender,
            content=content,
        )
        for party, content in mails
    ]
    repository = NotificationRepository(session)
    for notification in notifications:
        repository.add(notification)
    return notifications
