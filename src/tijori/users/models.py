"""Tables of the users service."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, MetaData, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, ExactText, StagedRow, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the users database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person who can log in; the normalised e-mail and the phone are each unique."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_kyc_kyc_check_at", "kyc", "kyc_check_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    # what e-mails are compared and kept unique by (tijori.common.phone.normalize_email),
    # byte for byte: a text collation would take rť-a@x.co for rt-a@x.co (migration 0005)
    email_normalized: Mapped[str] = mapped_column(ExactText(254), unique=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    authority: Mapped[str] = mapped_column(String(10), default="USER")
    # the transaction PIN as an HMAC-SHA256 under TIJORI_PIN_SECRET (users/pin.py)
    pin_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # the wrong PINs in a row and until when they count (users/pin.py, Strikes): the
    # attempt limit's state, kept where the PIN is (migration 0006)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_failures_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # KYC (users/kyc.py, docs/limits.md): MINIMUM | PENDING | FULL | REJECTED; of the
    # PAN only its masked form is kept, and the verifier's reference while it checks
    kyc: Mapped[str] = mapped_column(String(10), default="MINIMUM", server_default="MINIMUM")
    kyc_pan_masked: Mapped[str | None] = mapped_column(String(10), default=None)
    kyc_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    kyc_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # when the KYC loop next asks the verifier about a PENDING check
    kyc_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    kyc_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # e-mail verification (users/verification.py): the current code as an HMAC under
    # TIJORI_PIN_SECRET (never the code), until when it is good, the wrong tries at it, and
    # when it was sent (a new one at most once a minute)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    email_code_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    email_code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    email_code_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def pin_set(self) -> bool:
        """Whether the user has chosen a transaction PIN."""
        return self.pin_hash is not None


class UserSession(StagedRow, Base):
    """A log-in on one device: its refresh tokens rotate within it, its access tokens name
    it (``sid``). Changed only by :class:`~tijori.users.repository.SessionRepository`'s
    statements (ending it, touching it), never by setting attributes."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id_ended_at", "user_id", "ended_at"),
        Index("ix_sessions_expires_at", "expires_at"),  # what the purge looks for
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id"))
    # what the User-Agent said, summarised ("Chrome on Linux"; users/devices.py)
    device: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the log-in or the latest refresh
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # however often it is refreshed, it ends then (refresh_token_ttl_seconds after log-in)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # why it ended: logout, ended (from another session), logout_everywhere,
    # password_changed, refresh_token_reused; an expired or idle one is just not open
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)


class RefreshToken(StagedRow, Base):
    """One refresh token of a session, kept as the SHA-256 of the token (a random 256-bit
    secret needs no slow hash); a used one stays, so that its reuse is recognised."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), ForeignKey("sessions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # set once, when it is exchanged for the next one
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the users service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the users service has applied (it consumes none yet)."""
