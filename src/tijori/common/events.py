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
    """A user signed up."""

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


class TransactionInitiated(Payload):
    """A transfer was accepted and waits for the wallets service to apply it.

    Sent again (with a new event id) when the transaction stays PENDING too long;
    wallets applies a transaction id at most once and repeats its outcome.
    """

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int = Field(gt=0)


class TransferCompleted(Payload):
    """The wallets service moved the money: both balances and wallet versions after it."""

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int
    sender_balance_paise: int
    sender_version: int
    receiver_balance_paise: int
    receiver_version: int


RejectionReason = Literal["insufficient_funds", "wallet_frozen", "wallet_not_found"]


class TransferRejected(Payload):
    """The wallets service refused the transfer; no money moved."""

    transaction_id: str
    sender_id: str
    receiver_id: str
    amount_paise: int
    reason: RejectionReason
    sender_balance_paise: int | None = None
    sender_version: int | None = None


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


class PinLocked(Payload):
    """Too many wrong transaction PINs in a row: the user's payments are locked."""

    user_id: str
    name: str
    email: str
    locked_seconds: int = Field(gt=0)


EVENT_TYPES: dict[str, type[Payload]] = {
    "user.created": UserCreated,
    "wallet.created": WalletCreated,
    "transaction.initiated": TransactionInitiated,
    "transfer.completed": TransferCompleted,
    "transfer.rejected": TransferRejected,
    "transaction.completed": TransactionCompleted,
    "pin.locked": PinLocked,
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
