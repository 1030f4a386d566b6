"""Request and response bodies of the transactions service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from tijori.common.money import PositivePaise, Rupees

Status = Literal["PENDING", "SUCCESS", "FAILED"]
Direction = Literal["SENT", "RECEIVED"]

# The people of the API examples: Asha Rao sends money to Ravi Kumar.
_ASHA: JsonDict = {"id": "3f0c2b9e-8a41-4d6f-9b7a-2e5d1c4a6f10", "name": "Asha Rao"}
_RAVI: JsonDict = {"id": "b7e4d2a1-5c36-4f89-a0d2-91c8e7f35b64", "name": "Ravi Kumar"}


def _note(value: str | None) -> str | None:
    if value is None:
        return None
    note = value.strip()
    if len(note) > 140:
        raise PydanticCustomError("invalid_note", "a note has at most 140 characters")
    if any(ord(char) < 32 and char not in "\n\t" for char in note):
        raise PydanticCustomError("invalid_note", "a note has no control characters")
    return note or None


class TransferRequest(BaseModel):
    """Send ``amount`` to ``receiver`` (a phone or an e-mail)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"receiver": "+919812345678", "amount": "25.50", "note": "chai"},
                {"receiver": "ravi@example.com", "amount": 40, "note": "movie tickets"},
            ]
        },
    )

    receiver: Annotated[str, Field(min_length=1, max_length=254)]
    # parsed to paise, but what the client sends is rupees: say so rather than "integer"
    amount: Annotated[
        PositivePaise,
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}]}),
    ] = Field(description="Rupees: a string or number, at most 2 decimals.")
    note: Annotated[str | None, Field(max_length=1000), AfterValidator(_note)] = None


class PartyRead(BaseModel):
    """One side of a transaction."""

    id: str
    name: str


class TransactionRead(BaseModel):
    """A transaction as one of its parties sees it."""

    # newest first, as a page lists them; the first is what sending money answers
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5c8a2e71-9f3d-4b06-a4e2-6d1b8f7c3a90",
                    "sender": _ASHA,
                    "receiver": _RAVI,
                    "amount": "25.50",
                    "currency": "INR",
                    "note": "chai",
                    "status": "PENDING",
                    "reason": None,
                    "limit": None,
                    "direction": "SENT",
                    "created_at": "2025-01-15T18:20:00Z",
                    "updated_at": "2025-01-15T18:20:00Z",
                },
                {
                    "id": "1d7f3a92-6b4c-4e18-9a5d-3f8e2c7b0a61",
                    "sender": _ASHA,
                    "receiver": _RAVI,
                    "amount": "80.00",
                    "currency": "INR",
                    "note": "train tickets",
                    "status": "FAILED",
                    "reason": "insufficient_funds",
                    "limit": None,
                    "direction": "SENT",
                    "created_at": "2025-01-15T12:40:00Z",
                    "updated_at": "2025-01-15T12:40:01Z",
                },
                {
                    "id": "7a3e9c15-2d84-4b6f-8e0a-5c1f7d2b9e46",
                    "sender": _ASHA,
                    "receiver": _RAVI,
                    "amount": "600.00",
                    "currency": "INR",
                    "note": "rent share",
                    "status": "FAILED",
                    "reason": "limit_exceeded",
                    "limit": "monthly_p2p",
                    "direction": "SENT",
                    "created_at": "2025-01-15T11:10:00Z",
                    "updated_at": "2025-01-15T11:10:01Z",
                },
                {
                    "id": "e9b1c7d4-3a28-4f5e-8d61-7c2a9b0e4f13",
                    "sender": _ASHA,
                    "receiver": _RAVI,
                    "amount": "40.00",
                    "currency": "INR",
                    "note": "movie tickets",
                    "status": "SUCCESS",
                    "reason": None,
                    "limit": None,
                    "direction": "SENT",
                    "created_at": "2025-01-15T10:05:00Z",
                    "updated_at": "2025-01-15T10:05:01Z",
                },
            ]
        }
    )

    id: str
    sender: PartyRead
    receiver: PartyRead
    amount: Rupees = Field(examples=["25.50"])
    currency: Literal["INR"]
    note: str | None
    status: Status
    reason: str | None = Field(description="Why it FAILED: a stable code.")
    limit: str | None = Field(
        None, description="Which limit, when the reason is `limit_exceeded` (docs/limits.md)."
    )
    direction: Direction
    created_at: datetime
    updated_at: datetime
