"""Events between services: one envelope, one Pydantic payload model per event type.

This module is the contract of the event bus; the AsyncAPI document and docs/events.md
describe the same models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from tijori.common.db import utcnow


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
    email: str
    phone: str
    balance_paise: int


EVENT_TYPES: dict[str, type[Payload]] = {
    "user.created": UserCreated,
    "wallet.created": WalletCreated,
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
    payload: P


class UnknownEventError(ValueError):
    """The message names an event type this code does not know."""


def new_event(payload: Payload, *, correlation_id: str | None = None) -> Envelope[Any]:
    """Wrap ``payload`` in a fresh envelope of its type."""
    event_type = next(name for name, model in EVENT_TYPES.items() if isinstance(payload, model))
    return Envelope[Any](type=event_type, payload=payload, correlation_id=correlation_id)


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
