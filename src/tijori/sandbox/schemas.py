"""The request bodies of the sandbox's Razorpay API, with Razorpay's own limits.

Every ``amount`` is an integer number of paise; ``notes`` hold at most 15 keys.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
BANK_ACCOUNT_NUMBER = re.compile(r"^[0-9]{9,18}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9 _-]{4,36}$")

NoteValue = Annotated[str, StringConstraints(max_length=256)] | int | float | bool | None


def _notes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 15:
        raise ValueError("notes may hold at most 15 keys")
    return value


class Strict(BaseModel):
    """A body field Razorpay does not know is refused, as it does."""

    model_config = ConfigDict(extra="forbid")


class OrderRequest(Strict):
    """``POST /v1/orders``."""

    amount: int = Field(ge=100, description="paise; Razorpay's least is INR 1.00")
    currency: Literal["INR"] = "INR"
    receipt: Annotated[str, StringConstraints(max_length=40)] | None = None
    notes: dict[str, NoteValue] = Field(default_factory=dict)
    partial_payment: bool = False
    payment_capture: bool | int | None = None

    _check_notes = field_validator("notes")(_notes)


class CaptureRequest(Strict):
    """``POST /v1/payments/{id}/capture``."""

    amount: int = Field(ge=100)
    currency: Literal["INR"] = "INR"


class RefundRequest(Strict):
    """``POST /v1/payments/{id}/refund``: the whole of what is left unless ``amount``."""

    amount: int | None = Field(None, ge=100)
    speed: Literal["normal", "optimum"] = "normal"
    notes: dict[str, NoteValue] = Field(default_factory=dict)
    receipt: Annotated[str, StringConstraints(max_length=40)] | None = None

    _check_notes = field_validator("notes")(_notes)


class BankAccount(Strict):
    """The beneficiary's bank account."""

    name: Annotated[str, StringConstraints(min_length=3, max_length=120)]
    ifsc: str
    account_number: str

    @field_validator("ifsc")
    @classmethod
    def _ifsc(cls, value: str) -> str:
        if not IFSC.match(value):
            raise ValueError("the IFSC must be 4 letters, a 0 and 6 letters or digits")
        return value

    @field_validator("account_number")
    @classmethod
    def _account_number(cls, value: str) -> str:
        if not BANK_ACCOUNT_NUMBER.match(value):
            raise ValueError("the account number must be 9 to 18 digits")
        return value


class Contact(Strict):
    """Who the money goes to."""

    name: Annotated[str, StringConstraints(min_length=3, max_length=50)]
    type: Literal["vendor", "customer", "employee", "self"] | None = None
    reference_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    contact: Annotated[str, StringConstraints(max_length=15)] | None = None
    notes: dict[str, NoteValue] = Field(default_factory=dict)


class FundAccount(Strict):
    """The composite payout's inline fund account: a bank account only, here."""

    account_type: Literal["bank_account"]
    bank_account: BankAccount
    contact: Contact


class PayoutRequest(Strict):
    """``POST /v1/payouts``, the composite payout to a bank account."""

    account_number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    amount: int = Field(ge=100)
    currency: Literal["INR"] = "INR"
    mode: Literal["IMPS", "NEFT", "RTGS", "UPI"]
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    fund_account: FundAccount
    queue_if_low_balance: bool = False
    reference_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    narration: Annotated[str, StringConstraints(max_length=30)] | None = None
    notes: dict[str, NoteValue] = Field(default_factory=dict)

    _check_notes = field_validator("notes")(_notes)
