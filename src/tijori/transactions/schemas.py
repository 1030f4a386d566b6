"""Request and response bodies of the transactions service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from tijori.common.money import PositivePaise, Rupees

Status = Literal["PENDING", "SUCCESS", "FAILED"]
Direction = Literal["SENT", "RECEIVED"]


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
            "examples": [{"receiver": "98765 43210", "amount": "25.50", "note": "chai"}]
        },
    )

    receiver: Annotated[str, Field(min_length=1, max_length=254)]
    amount: PositivePaise = Field(description="Rupees: a string or number, at most 2 decimals.")
    note: Annotated[str | None, Field(max_length=1000), AfterValidator(_note)] = None


class PartyRead(BaseModel):
    """One side of a transaction."""

    id: str
    name: str


class TransactionRead(BaseModel):
    """A transaction as one of its parties sees it."""

    id: str
    sender: PartyRead
    receiver: PartyRead
    amount: Rupees = Field(examples=["25.50"])
    currency: Literal["INR"]
    note: str | None
    status: Status
    reason: str | None = Field(description="Why it FAILED: a stable code.")
    direction: Direction
    created_at: datetime
    updated_at: datetime
