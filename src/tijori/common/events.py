"""Events between services: one envelope, one Pydantic payload model per event type.

This module is the contract of the event bus; the AsyncAPI document and docs/events.md
describe the same models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from tijori.common.clock import utcnow


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UserCreated(Payload):
    """A user signed up. With ``verification_required`` the wallet opens without the
    promotion, which waits for ``user.email_verified`` (False on events from before
    e-mail verification, and when ``TIJORI_REQUIRE_EMAIL_VERIFICATION`` is off)."""

    user_id: str
    name: str
    email: str
    phone: str
    verification_required: bool = False


class EmailCodeIssued(Payload):
    """A new e-mail verification code for a user, for notifications to e-mail. The one
    event that carries a secret: users keeps only its HMAC, the code is good for
    ``expires_in_seconds`` and a few tries, and only with the user's own access token
    (docs/security.md, "E-mail verification")."""

    user_id: str
    name: str
    email: str
    code: str = Field(pattern=r"^[0-9]{6}$")
    expires_in_seconds: int = Field(gt=0)


class UserEmailVerified(Payload):
    """A user proved their e-mail address with a code: wallets credits the promotion
    (opening the wallet first when ``user.created`` has not arrived yet)."""

    user_id: str
    name: str
    email: str
    phone: str


class WalletCreated(Payload):
    """A wallet was opened for a user, with its promotional balance."""

    wallet_id: str
    user_id: str
    name: str
    email: str
    phone: str
    balance_paise: int
    version: int


class PromotionCredited(Payload):
    """The sign-up promotion was credited to a wallet after its user verified their
    e-mail (once per user): the wallet as ``wallet.created`` describes it, with its
    balance and version after the credit."""

    wallet_id: str
    user_id: str
    name: str
    email: str
    phone: str
    amount_paise: int = Field(gt=0)
    balance_paise: int
    version: int


class TransactionInitiated(Payload):
    """A transfer was accepted and waits for the wallets service to apply it.

    Sent again (with a new event id) when the transaction stays PENDING too long;
    wallets applies a transaction id at most once and repeats its outcome.
    """

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int = Field(gt=0)


KycTier = Literal["MINIMUM", "FULL"]


class Allowance(Payload):
    """What a wallet's sender-side limits allow, as wallets counts them: its tier's
    monthly limit on money sent to people and what it sent in ``p2p_month``, and the
    user's own daily caps (None: no cap) and what they paid on ``pay_day``, payments to
    people and withdrawals; its KYC ``tier`` (None in events written before it was
    added), whose monthly limit ``wallet.tier_limits`` may announce anew, and whether
    it is ``frozen`` (it pays nothing; False in events written before it was added). A
    counter of an earlier month or day than today's counts nothing now
    (docs/limits.md); transactions' pre-check keeps it to refuse at once a transfer
    wallets would refuse."""

    monthly_p2p_paise: int
    p2p_month: str | None
    p2p_sent_paise: int
    daily_amount_cap_paise: int | None
    daily_count_cap: int | None
    pay_day: str | None
    day_paid_paise: int
    day_payments: int
    tier: KycTier | None = None
    frozen: bool = False


class TransferCompleted(Payload):
    """The wallets service moved the money: both balances and wallet versions after it,
    and the sender's allowance at its version (None in events written before it was
    added)."""

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int
    sender_balance_paise: int
    sender_version: int
    receiver_balance_paise: int
    receiver_version: int
    sender_allowance: Allowance | None = None


RejectionReason = Literal[
    "insufficient_funds", "wallet_frozen", "wallet_not_found", "limit_exceeded"
]

KycState = Literal["MINIMUM", "PENDING", "FULL", "REJECTED"]


class TransferRejected(Payload):
    """The wallets service refused the transfer; no money moved. The sender's balance
    and allowance at its wallet version, as in ``transfer.completed``."""

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int
    reason: RejectionReason
    sender_balance_paise: int | None = None
    sender_version: int | None = None
    # which limit, when the reason is limit_exceeded (docs/limits.md)
    limit: str | None = None
    # the sender's allowance at sender_version (None without a sender wallet)
    sender_allowance: Allowance | None = None


class Party(Payload):
    """One side of a transaction, as e-mails address them."""

    user_id: str
    name: str
    email: str


class TransactionCompleted(Payload):
    """A transaction reached SUCCESS or FAILED (exactly once per transaction)."""

    transaction_id: str
    status: Literal["SUCCESS", "FAILED"]
    reason: str | None
    amount_paise: int
    note: str | None
    sender: Party
    receiver: Party
    # which limit, when the reason is limit_exceeded
    limit: str | None = None


class PinLocked(Payload):
    """Too many wrong transaction PINs in a row: the user's payments are locked."""

    user_id: str
    name: str
    email: str
    locked_seconds: int = Field(gt=0)


class UserKycUpdated(Payload):
    """The KYC check of a user ended: FULL (verified: the wallet becomes a full-KYC one)
    or REJECTED (it stays a minimum-detail wallet). Never the PAN; at most its masked
    form. ``name`` and ``email`` address the e-mail of the outcome (None in events
    written before they were added: no e-mail is sent for those)."""

    user_id: str
    kyc: Literal["FULL", "REJECTED"]
    reason: str | None = None
    pan_masked: str | None = None
    name: str | None = None
    email: str | None = None


class TopupCaptured(Payload):
    """The gateway captured a top-up's payment: the money is at the gateway, owed to the
    user's wallet. Sent again when payments asks the gateway and finds it captured; wallets
    credits a top-up at most once and repeats its outcome."""

    topup_id: str
    user_id: str
    payment_id: str
    amount_paise: int = Field(gt=0)


# a frozen wallet is credited (only debits are refused); ``wallet_frozen`` stays for
# top-ups refused before that rule
TopupRejectionReason = Literal["wallet_frozen", "wallet_not_found", "limit_exceeded"]


class TopupCredited(Payload):
    """The wallets service credited a captured top-up: the balance and version after it."""

    topup_id: str
    user_id: str
    amount_paise: int
    balance_paise: int
    version: int


class TopupRejected(Payload):
    """The wallets service could not accept a captured top-up; nothing was credited and
    payments refunds it at the gateway."""

    topup_id: str
    user_id: str
    amount_paise: int
    reason: TopupRejectionReason
    # which limit, when the reason is limit_exceeded
    limit: str | None = None


class TopupCompleted(Payload):
    """A top-up reached CREDITED, FAILED or REFUNDED (once per top-up), for e-mail."""

    topup_id: str
    status: Literal["CREDITED", "FAILED", "REFUNDED"]
    reason: str | None
    amount_paise: int
    user: Party
    # which limit, when the reason is limit_exceeded
    limit: str | None = None


class WithdrawalRequested(Payload):
    """A user asked to withdraw to a bank: wallets holds the amount, or refuses."""

    withdrawal_id: str
    user_id: str
    amount_paise: int = Field(gt=0)


HoldStatus = Literal["HELD", "REFUSED", "POSTED", "VOIDED", "RETURNED"]


class HoldUpdated(Payload):
    """A hold changed: placed (HELD) or refused, then posted (the money left) or voided
    (it is available again), exactly once; RETURNED when a posted payout came back and
    was credited again. The wallet's balance, holds and version after it."""

    hold_id: str
    user_id: str
    amount_paise: int
    status: HoldStatus
    reason: str | None = None
    # which limit, when a REFUSED hold's reason is limit_exceeded (docs/limits.md)
    limit: str | None = None
    balance_paise: int | None = None
    held_paise: int | None = None
    version: int | None = None


class WithdrawalSettled(Payload):
    """The gateway finished a withdrawal's payout: PROCESSED (post the hold), FAILED
    (void it), or REVERSED (a processed payout came back: credit it again)."""

    withdrawal_id: str
    user_id: str
    amount_paise: int
    outcome: Literal["PROCESSED", "FAILED", "REVERSED"]
    reason: str | None = None


class WithdrawalCompleted(Payload):
    """A withdrawal reached PROCESSED, FAILED or REVERSED, for e-mail."""

    withdrawal_id: str
    status: Literal["PROCESSED", "FAILED", "REVERSED"]
    reason: str | None
    amount_paise: int
    account_last4: str
    user: Party
    # which limit, when the reason is limit_exceeded
    limit: str | None = None


FreezeActor = Literal["USER", "ADMIN"]


class _WalletFreezeChange(Payload):
    """What ``wallet.frozen`` and ``wallet.unfrozen`` say: whose wallet, by whom (its
    owner or an ADMIN, ``actor_id``), why (an ADMIN's reason), and where to e-mail."""

    wallet_id: str
    user_id: str
    email: str | None
    by: FreezeActor
    actor_id: str
    reason: str | None = None


class WalletFrozen(_WalletFreezeChange):
    """A wallet was frozen: every debit from it is refused until it is unfrozen; credits
    still arrive."""


class WalletUnfrozen(_WalletFreezeChange):
    """A frozen wallet was unfrozen (by its owner with password and PIN, or an ADMIN)."""


class WalletLimitsChanged(Payload):
    """A wallet's allowance changed otherwise than by one of its transfers: its tier
    (full KYC), the user's own daily caps, a withdrawal's hold placed or voided
    (counted in, or given back to, the day), or a freeze or an unfreeze. ``version`` is
    the wallet's after the change: older news is ignored."""

    wallet_id: str
    user_id: str
    version: int
    allowance: Allowance


class WalletTierLimits(Payload):
    """The monthly limit on money sent to people of each KYC tier, as the wallets
    service enforces it (its configuration): announced when a wallets process starts
    with limits other than the ones announced last. ``version`` counts the
    announcements (kept in wallets' database): an older one is ignored."""

    version: int = Field(gt=0)
    monthly_p2p_paise: dict[KycTier, int]


EVENT_TYPES: dict[str, type[Payload]] = {
    "user.created": UserCreated,
    "user.email_code_issued": EmailCodeIssued,
    "user.email_verified": UserEmailVerified,
    "wallet.created": WalletCreated,
    "wallet.promotion_credited": PromotionCredited,
    "transaction.initiated": TransactionInitiated,
    "transfer.completed": TransferCompleted,
    "transfer.rejected": TransferRejected,
    "transaction.completed": TransactionCompleted,
    "pin.locked": PinLocked,
    "user.kyc_updated": UserKycUpdated,
    "topup.captured": TopupCaptured,
    "topup.credited": TopupCredited,
    "topup.rejected": TopupRejected,
    "topup.completed": TopupCompleted,
    "withdrawal.requested": WithdrawalRequested,
    "hold.updated": HoldUpdated,
    "withdrawal.settled": WithdrawalSettled,
    "withdrawal.completed": WithdrawalCompleted,
    "wallet.frozen": WalletFrozen,
    "wallet.unfrozen": WalletUnfrozen,
    "wallet.limits_changed": WalletLimitsChanged,
    "wallet.tier_limits": WalletTierLimits,
}
"""Every event type, which is also its topic name (after the configured prefix)."""

P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """What travels on the bus: who, what and when around a typed payload."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    # W3C trace context of the span that caused the event; also in the Kafka headers
    traceparent: str | None = None
    payload: P


class UnknownEventError(ValueError):
    """The message names an event type this code does not know."""


def new_event(
    payload: Payload, *, correlation_id: str | None = None, traceparent: str | None = None
) -> Envelope[Any]:
    """Wrap ``payload`` in a fresh envelope of its type."""
    event_type = next(name for name, model in EVENT_TYPES.items() if isinstance(payload, model))
    return Envelope[Any](
        type=event_type, payload=payload, correlation_id=correlation_id, traceparent=traceparent
    )


def parse_event(raw: bytes | str) -> Envelope[Any]:
    """Validate a message from the bus into an envelope with its typed payload."""
    head = Envelope[Any].model_validate_json(raw)
    model = EVENT_TYPES.get(head.type)
    if model is None:
        raise UnknownEventError(f"unknown event type {head.type!r}")
    typed: Envelope[Any] = Envelope[model].model_validate_json(raw)  # type: ignore[valid-type]
    return typed


def topic_name(event_type: str, prefix: str = "") -> str:
    """The Kafka topic that carries ``event_type``."""
    return f"{prefix}{event_type}"
