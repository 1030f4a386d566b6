"""Tables every service has: its outbox and the events its consumers have processed.

Each service declares them on its own ``Base`` (its own database) by mixing these in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import BigId, UtcDateTime


class OutboxMessageMixin:
    """An event written in the same database transaction as the change it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:
        return (Index("ix_outbox_unpublished", "published_at", "id"),)


class ProcessedEventMixin:
    """Marks an event as applied by one consumer; its primary key makes redelivery a no-op."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
