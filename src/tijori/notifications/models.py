"""Tables of the notifications service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, BigId, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the notifications database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Notification(Base):
    """One e-mail to one user, kept with its delivery state.

    Rows are written PENDING by consumers and delivered by the mailer, which retries
    with backoff and marks FAILED after the last try: an e-mail is never lost to an
    SMTP outage or a crash.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(30))  # WELCOME, ...
    sender: Mapped[str] = mapped_column(String(254))
    receiver: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10), default="EMAIL")
    status: Mapped[str] = mapped_column(String(10), default="PENDING")  # PENDING | SENT | FAILED
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the delivery continues the trace of the event that queued the e-mail
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    traceparent: Mapped[str | None] = mapped_column(String(55))


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the notifications service (it emits none yet)."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the notifications service has applied."""
