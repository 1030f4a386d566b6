"""Tables of the users service."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the users database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person who can log in; e-mail and phone are each unique."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_kyc_kyc_check_at", "kyc", "kyc_check_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    authority: Mapped[str] = mapped_column(String(10), default="USER")
    # the transaction PIN as an HMAC-SHA256 under TIJORI_PIN_SECRET (users/pin.py)
    pin_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # KYC (users/kyc.py, docs/limits.md): MINIMUM | PENDING | FULL | REJECTED; of the
    # PAN only its masked form is kept, and the verifier's reference while it checks
    kyc: Mapped[str] = mapped_column(String(10), default="MINIMUM", server_default="MINIMUM")
    kyc_pan_masked: Mapped[str | None] = mapped_column(String(10), default=None)
    kyc_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    kyc_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # when the KYC loop next asks the verifier about a PENDING check
    kyc_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    kyc_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def pin_set(self) -> bool:
        """Whether the user has chosen a transaction PIN."""
        return self.pin_hash is not None


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the users service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the users service has applied (it consumes none yet)."""
