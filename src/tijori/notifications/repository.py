"""All SQL of the notifications service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from tijori.common.db import UnitOfWork
from tijori.notifications.models import Notification


class NotificationRepository:
    """Reads and writes notifications in one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    def add(self, *rows: dict[str, Any]) -> None:
        """Stage new notifications' rows, written when the transaction commits."""
        self.uow.insert_at_commit(Notification, *rows)

    async def update(self, notification_id: int, values: Mapping[str, object]) -> None:
        """Change one notification's delivery state in one statement."""
        await self.session.execute(
            update(Notification).where(Notification.id == notification_id).values(**values)
        )

    async def mark_sent(self, notification_ids: Sequence[int], *, at: datetime) -> None:
        """Mark these notifications SENT at ``at``, in one statement."""
        await self.session.execute(
            update(Notification)
            .where(Notification.id.in_(notification_ids))
            .values(status="SENT", sent_at=at, last_error=None)
        )

    async def claim_due(
        self, *, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[Notification]:
        """Claim the PENDING notifications whose next attempt is due, oldest first: lock
        them, count the try and put off their next one until ``lease_until`` (one
        statement for the batch; the loaded rows show the change)."""
        claimed = (
            await self.session.scalars(
                select(Notification)
                .where(Notification.status == "PENDING", Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if claimed:
            await self.session.execute(
                update(Notification)
                .where(Notification.id.in_([notification.id for notification in claimed]))
                .values(attempts=Notification.attempts + 1, next_attempt_at=lease_until)
                .execution_options(synchronize_session="evaluate")
            )
        return claimed

    async def for_user(
        self, user_id: str, *, before_id: int | None, limit: int
    ) -> Sequence[Notification]:
        """A user's notifications, newest first, older than ``before_id`` when given."""
        query = select(Notification).where(Notification.user_id == user_id)
        if before_id is not None:
            query = query.where(Notification.id < before_id)
        return (
            await self.session.scalars(query.order_by(Notification.id.desc()).limit(limit))
        ).all()
