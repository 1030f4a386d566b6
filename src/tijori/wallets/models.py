"""Tables of the wallets service: wallets and their double-entry ledger."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tijori.common.clock import utcnow
from tijori.common.db import NAMING_CONVENTION, BigId, StagedRow, UtcDateTime
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin

PROMOTIONS_WALLET_ID = "00000000-0000-0000-0000-000000000001"
"""The system account every promotional credit is drawn from (created by the migration)."""

GATEWAY_WALLET_ID = "00000000-0000-0000-0000-000000000002"
"""The system account of money at the payment gateway: top-ups are credited from it and
withdrawals paid out to it, so its balance is minus what users hold through the gateway
(created by migration 0003; ``tijori reconcile`` compares it with the gateway's books)."""


class Base(DeclarativeBase):
    """Metadata of the wallets database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Wallet(StagedRow, Base):
    """A user's wallet, or a system account such as promotions.

    ``balance_paise`` caches the sum of the wallet's ledger entries and is updated in the
    same database transaction as they are written; ``tijori audit`` checks they agree.
    A wallet changes only through :class:`~tijori.wallets.repository.WalletRepository`.
    """

    __tablename__ = "wallets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="USER")  # USER | SYSTEM
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    balance_paise: Mapped[int] = mapped_column(BigInteger, default=0)
    # the sum of the wallet's HELD holds: it can spend balance_paise - held_paise
    held_paise: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    status: Mapped[str] = mapped_column(String(10), default="ACTIVE")  # ACTIVE | FROZEN
    # MINIMUM (minimum-detail) | FULL, from user.kyc_updated: which limits apply
    kyc_tier: Mapped[str] = mapped_column(String(10), default="MINIMUM", server_default="MINIMUM")
    # paid to other people in the calendar month p2p_month ("2026-12", India's time), kept
    # in the row every transfer updates anyway: the monthly limit costs no statement
    p2p_month: Mapped[str | None] = mapped_column(String(7), default=None)
    p2p_sent_paise: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # the user's own daily caps on the value and number of their payments (None: none,
    # the tier's limits only), and what they paid on pay_day ("2026-12-31", India's
    # day), kept in the same row as the month's counter and for the same reason
    daily_amount_cap_paise: Mapped[int | None] = mapped_column(BigInteger, default=None)
    daily_count_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    pay_day: Mapped[str | None] = mapped_column(String(10), default=None)
    day_paid_paise: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    day_payments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # one more with every change of its balance, holds or limits: lets readers of events
    # (transactions' known balances and allowances) drop older news
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def available_paise(self) -> int:
        """What the wallet can spend: its balance less its holds."""
        return self.balance_paise - self.held_paise


class LedgerEntry(Base):
    """One immutable side of a money movement; the two sides of a movement sum to zero."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # one movement touches a wallet once: a replayed movement cannot post twice
        UniqueConstraint("reference", "wallet_id"),
        Index("ix_ledger_entries_wallet_id_id", "wallet_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    wallet_id: Mapped[str] = mapped_column(String(36), ForeignKey("wallets.id"))
    counterparty_wallet_id: Mapped[str] = mapped_column(String(36), ForeignKey("wallets.id"))
    reference: Mapped[str] = mapped_column(String(64))
    # PROMOTION | TRANSFER | TOPUP | WITHDRAWAL | PAYOUT_RETURN
    kind: Mapped[str] = mapped_column(String(20))
    amount_paise: Mapped[int] = mapped_column(BigInteger)  # credit > 0, debit < 0
    balance_after_paise: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Transfer(Base):
    """The outcome of one transaction, recorded once with its effect.

    A ``transaction.initiated`` that arrives again (a redelivery or a re-drive with a new
    event id) finds this row and repeats the recorded outcome without moving money.
    """

    __tablename__ = "transfers"

    transaction_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # APPLIED | REJECTED
    reason: Mapped[str | None] = mapped_column(String(40))
    outcome_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(Text)  # the payload of the outcome event, as JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Hold(StagedRow, Base):
    """Money set aside for a withdrawal (a two-phase transfer's pending debit).

    HELD lowers the wallet's available balance at once; it is then POSTED (the money
    leaves, as a pair of ledger entries) or VOIDED (available again) exactly once, and a
    HELD hold past ``expires_at`` is voided. REFUSED records a hold that was never placed,
    so a request sent again repeats the refusal; RETURNED is a posted hold whose payout
    came back and was credited again. Changes only through
    :class:`~tijori.wallets.repository.WalletRepository`.
    """

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_status_expires_at", "status", "expires_at"),)

    # the withdrawal's id: one hold per withdrawal
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wallet_id: Mapped[str] = mapped_column(String(36), ForeignKey("wallets.id"))
    user_id: Mapped[str] = mapped_column(String(36))
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # HELD | REFUSED | POSTED | VOIDED | RETURNED
    reason: Mapped[str | None] = mapped_column(String(40))
    # which limit, when a REFUSED hold's reason is limit_exceeded (migration 0007)
    limit_name: Mapped[str | None] = mapped_column(String(40), default=None)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TopupCredit(Base):
    """The outcome of one captured top-up, recorded once with its effect: a top-up sent
    again finds it and repeats the outcome; the credited ones count against the monthly
    and yearly limits of money added."""

    __tablename__ = "topup_credits"
    __table_args__ = (Index("ix_topup_credits_user_id_created_at", "user_id", "created_at"),)

    topup_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # CREDITED | REJECTED
    reason: Mapped[str | None] = mapped_column(String(40))
    outcome_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(Text)  # the payload of the outcome event, as JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LimitChange(Base):
    """A change of a user's own daily caps, as set: the caps after it, and the id of the
    payment token that authorised a raise (unique: a token raises once; None for a
    lowering, which needs none). The trail of who raised what, and when."""

    __tablename__ = "limit_changes"
    __table_args__ = (Index("ix_limit_changes_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(36))
    daily_amount_cap_paise: Mapped[int | None] = mapped_column(BigInteger)
    daily_count_cap: Mapped[int | None] = mapped_column(Integer)
    raised: Mapped[bool] = mapped_column(Boolean)
    payment_token_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WalletFreeze(Base):
    """One freeze or unfreeze of a wallet, kept for good: who (the owner, or an ADMIN
    with a reason), when, and the payment token an owner's unfreeze was confirmed with
    (unique: a token unfreezes once). The wallet's ``status`` is the current state;
    its latest row says who froze it."""

    __tablename__ = "wallet_freezes"
    __table_args__ = (
        Index("ix_wallet_freezes_wallet_id_id", "wallet_id", "id"),
        Index("uq_wallet_freezes_payment_token_id", "payment_token_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    wallet_id: Mapped[str] = mapped_column(String(36), ForeignKey("wallets.id"))
    user_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(10))  # FREEZE | UNFREEZE
    by: Mapped[str] = mapped_column(String(10))  # USER (the owner) | ADMIN
    actor_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(200))
    payment_token_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


TIER_LIMITS_ROW = 1
"""The id of the one row of :class:`TierLimitsAnnounced` (made by migration 0008)."""


class TierLimitsAnnounced(Base):
    """What ``wallet.tier_limits`` announced last: the payload (as JSON; None before the
    first) and its version. A wallets process that starts with other limits announces
    them at the next version, under this row's lock (docs/limits.md)."""

    __tablename__ = "tier_limits_announced"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    announcement: Mapped[str | None] = mapped_column(Text, default=None)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the wallets service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the wallets service has applied."""
