"""Business rules of the notifications service: which e-mails an event causes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.events import (
    EmailCodeIssued,
    Party,
    PinLocked,
    TopupCompleted,
    TransactionCompleted,
    UserCreated,
    WithdrawalCompleted,
)
from tijori.common.tracing import correlation_id_var, current_traceparent
from tijori.notifications.messages import (
    MailContent,
    email_code,
    pin_locked,
    topup_completed,
    transfer_failed,
    transfer_received,
    transfer_sent,
    welcome,
    withdrawal_completed,
)
from tijori.notifications.repository import NotificationRepository


def _notification(
    *, event_id: str, user_id: str, receiver: str, sender: str, content: MailContent
) -> dict[str, Any]:
    """A new notification's row: PENDING, due now."""
    now = utcnow()
    return {
        "event_id": event_id,
        "user_id": user_id,
        "kind": content.kind,
        "sender": sender,
        "receiver": receiver,
        "subject": content.subject,
        "message": content.body,
        "channel": "EMAIL",
        "status": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "correlation_id": correlation_id_var.get(),
        "traceparent": current_traceparent(),
    }


def _queue(
    uow: UnitOfWork,
    *,
    event_id: str,
    sender: str,
    mails: Iterable[tuple[UserCreated | Party | PinLocked | EmailCodeIssued, MailContent]],
) -> None:
    """Stage one notification per (recipient, content), written when the caller commits;
    the mailer is woken after the commit."""
    NotificationRepository(uow).add(
        *(
            _notification(
                event_id=event_id,
                user_id=to.user_id,
                receiver=to.email,
                sender=sender,
                content=content,
            )
            for to, content in mails
        )
    )


async def welcome_user(uow: UnitOfWork, *, event_id: str, user: UserCreated, sender: str) -> None:
    """Queue the welcome e-mail of a new user."""
    _queue(uow, event_id=event_id, sender=sender, mails=[(user, welcome(user))])


async def send_email_code(
    uow: UnitOfWork, *, event_id: str, issued: EmailCodeIssued, sender: str
) -> None:
    """Queue the e-mail with a user's verification code."""
    _queue(uow, event_id=event_id, sender=sender, mails=[(issued, email_code(issued))])


async def notify_transaction(
    uow: UnitOfWork, *, event_id: str, transaction: TransactionCompleted, sender: str
) -> None:
    """Queue the e-mails of a settled transaction: both parties on SUCCESS, the sender on FAILED."""
    if transaction.status == "SUCCESS":
        mails = [
            (transaction.sender, transfer_sent(transaction)),
            (transaction.receiver, transfer_received(transaction)),
        ]
    else:
        mails = [(transaction.sender, transfer_failed(transaction))]
    _queue(uow, event_id=event_id, sender=sender, mails=mails)


async def notify_pin_locked(
    uow: UnitOfWork, *, event_id: str, locked: PinLocked, sender: str
) -> None:
    """Queue the e-mail telling a user their payments were locked by wrong PINs."""
    _queue(uow, event_id=event_id, sender=sender, mails=[(locked, pin_locked(locked))])


async def notify_topup(
    uow: UnitOfWork, *, event_id: str, topup: TopupCompleted, sender: str
) -> None:
    """Queue the e-mail of a top-up credited or refunded."""
    _queue(uow, event_id=event_id, sender=sender, mails=[(topup.user, topup_completed(topup))])


async def notify_withdrawal(
    uow: UnitOfWork, *, event_id: str, withdrawal: WithdrawalCompleted, sender: str
) -> None:
    """Queue the e-mail of a withdrawal sent, failed or reversed."""
    _queue(
        uow,
        event_id=event_id,
        sender=sender,
        mails=[(withdrawal.user, withdrawal_completed(withdrawal))],
    )
