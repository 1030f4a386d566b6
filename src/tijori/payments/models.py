"""Tables of the payments service: top-ups, withdrawals, and what the gateway told it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, BigId, ExactText, StagedRow, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the payments database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """Who a user is, from ``user.created``: the name and address of their e-mails."""

    __tablename__ = "customers"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))


class Topup(StagedRow, Base):
    """Money a user adds through the gateway: an order there, then its payment.

    CREATED → CAPTURED → CREDITED, or REFUNDED when wallets could not take it; FAILED
    when the payment failed or was abandoned (a later capture still moves it on to
    CAPTURED: a status only moves forward). Changes only through
    :class:`~tijori.payments.repository.PaymentsRepository`.
    """

    __tablename__ = "topups"
    __table_args__ = (
        Index("ix_topups_user_id_seq", "user_id", "seq"),
        Index("ix_topups_status_check_at", "status", "check_at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(String(36))
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="CREATED")
    reason: Mapped[str | None] = mapped_column(String(40))
    # which limit, when the reason is limit_exceeded (migration 0003)
    limit_name: Mapped[str | None] = mapped_column(String(40), default=None)
    order_id: Mapped[str] = mapped_column(String(40), unique=True)
    payment_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    refund_id: Mapped[str | None] = mapped_column(String(40))
    # wallets refused the money: it is to be refunded at the gateway
    refund_due: Mapped[bool] = mapped_column(Boolean, default=False)
    # when to ask the gateway about it, if no webhook has settled it by then
    check_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Withdrawal(StagedRow, Base):
    """Money a user sends from the wallet to their bank account, as a gateway payout.

    REQUESTED → HELD (wallets holds the amount) → PROCESSING (the payout was accepted)
    → PROCESSED, or FAILED at any step before (the hold voided); a processed payout that
    comes back is REVERSED. Changes only through the repository.
    """

    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_withdrawals_user_id_seq", "user_id", "seq"),
        Index("ix_withdrawals_status_check_at", "status", "check_at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(String(36))
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="REQUESTED")
    reason: Mapped[str | None] = mapped_column(String(40))
    # which limit, when the reason is limit_exceeded (migration 0002)
    limit_name: Mapped[str | None] = mapped_column(String(40), default=None)
    account_name: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(18))
    ifsc: Mapped[str] = mapped_column(String(11))
    payout_id: Mapped[str | None] = mapped_column(String(40))
    # the last state of its hold in wallets that this service applied
    hold_status: Mapped[str | None] = mapped_column(String(10))
    # compared byte for byte, as transactions' keys are
    idempotency_key: Mapped[str] = mapped_column(ExactText(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # the payment token that authorised it: a token pays once
    payment_token_id: Mapped[str] = mapped_column(String(64), unique=True)
    # payout requests the gateway did not answer, and when to try or ask again
    attempts: Mapped[int] = mapped_column(BigInteger, default=0)
    check_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookEvent(Base):
    """A gateway webhook applied, by its event id: written in the same database
    transaction as its effect, so a webhook delivered again changes nothing."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the payments service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the payments service has applied."""
