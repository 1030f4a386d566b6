"""Tables of the transactions service."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, BigId, ExactText, StagedRow, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the transactions database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Transaction(StagedRow, Base):
    """A transfer from one user to another: PENDING until wallets decides, then
    SUCCESS or FAILED (with a reason), exactly once."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_sender_id_seq", "sender_id", "seq"),
        Index("ix_transactions_receiver_id_seq", "receiver_id", "seq"),
        Index("ix_transactions_sender_id_status", "sender_id", "status"),
        Index("ix_transactions_status_updated_at", "status", "updated_at"),
        Index("uq_transactions_payment_token_id", "payment_token_id", unique=True),
    )

    # the order of acceptance, for newest-first pages; ``id`` is what the API shows
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    sender_id: Mapped[str] = mapped_column(String(36))
    receiver_id: Mapped[str] = mapped_column(String(36))
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    note: Mapped[str | None] = mapped_column(String(140))
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    reason: Mapped[str | None] = mapped_column(String(40))
    # which limit, when the reason is limit_exceeded (migration 0005; docs/limits.md)
    limit_name: Mapped[str | None] = mapped_column(String(40), default=None)
    redrives: Mapped[int] = mapped_column(BigInteger, default=0)
    # the payment token (its jti) that authorised it: one transaction per token
    # (migration 0004; NULL before tokens were required)
    payment_token_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key``, scoped to its user, with a hash of the request.

    Written in the same database transaction as the transaction it created.
    """

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # compared byte for byte on every database (migration 0003)
    key: Mapped[str] = mapped_column(ExactText(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Account(StagedRow, Base):
    """What this service knows of a wallet, from ``wallet.created``, transfer outcomes and
    ``wallet.limits_changed``: who can receive money, by phone or e-mail, the last
    balance it was told, and the last allowance of its sender-side limits, its tier and
    whether it is frozen (the pre-check's, transactions/allowance.py)."""

    __tablename__ = "accounts"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wallet_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    # as users compares it (normalize_email), byte for byte on every database (migration 0007)
    email: Mapped[str] = mapped_column(ExactText(254), unique=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    balance_paise: Mapped[int] = mapped_column(BigInteger)
    # the wallet version ``balance_paise`` is from; older news is ignored
    version: Mapped[int] = mapped_column(BigInteger)
    # the wallet version the allowance below is from (None: none known yet, the
    # pre-check checks no limit); older news is ignored (migration 0006)
    limits_version: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # the tier's monthly limit on money sent to people, and what was sent in p2p_month
    monthly_p2p_paise: Mapped[int | None] = mapped_column(BigInteger, default=None)
    p2p_month: Mapped[str | None] = mapped_column(String(7), default=None)
    p2p_sent_paise: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # the user's own daily caps (None: none), and what was paid on pay_day
    daily_amount_cap_paise: Mapped[int | None] = mapped_column(BigInteger, default=None)
    daily_count_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    pay_day: Mapped[str | None] = mapped_column(String(10), default=None)
    day_paid_paise: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    day_payments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the wallet's KYC tier (None: not told yet), whose monthly limit wallets may have
    # announced since (TierLimit), and whether it is frozen (migration 0008)
    tier: Mapped[str | None] = mapped_column(String(10), default=None)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TierLimit(Base):
    """A KYC tier's monthly limit on money sent to people, as wallets last announced it
    (``wallet.tier_limits``, older announcements ignored): the pre-check's limit for a
    sender of that tier, newer than the one its allowance was told with (migration
    0008; docs/limits.md)."""

    __tablename__ = "tier_limits"

    tier: Mapped[str] = mapped_column(String(10), primary_key=True)
    monthly_p2p_paise: Mapped[int] = mapped_column(BigInteger)
    # the announcement's version
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the transactions service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the transactions service has applied."""
