"""Request and response bodies of the payments service."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from tijori.common.money import PositivePaise, Rupees

TopupStatus = Literal["CREATED", "CAPTURED", "CREDITED", "FAILED", "REFUNDED"]
WithdrawalStatus = Literal["REQUESTED", "HELD", "PROCESSING", "PROCESSED", "FAILED", "REVERSED"]

# bank account rules of Razorpay payouts (PRODUCT.md, "Withdrawal to a bank")
IFSC = re.compile(r"[A-Z]{4}0[A-Z0-9]{6}")
ACCOUNT_NUMBER = re.compile(r"[0-9]{9,18}")

Amount = Annotated[
    PositivePaise,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}]}),
]


def _ifsc(value: str) -> str:
    code = value.strip().upper()
    if not IFSC.fullmatch(code):
        raise PydanticCustomError(
            "invalid_bank_account", "an IFSC is 4 letters, a 0 and 6 letters or digits"
        )
    return code


def _account_number(value: str) -> str:
    number = value.strip()
    if not ACCOUNT_NUMBER.fullmatch(number):
        raise PydanticCustomError("invalid_bank_account", "an account number is 9 to 18 digits")
    return number


def _account_name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > 100 or not name.isprintable():
        raise PydanticCustomError(
            "invalid_bank_account", "the account holder's name is 1 to 100 printable characters"
        )
    return name


class TopupRequest(BaseModel):
    """Add ``amount`` to the wallet through the payment gateway."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": "500"}]})

    amount: Amount = Field(description="Rupees: a string or number, at most 2 decimals.")


class TopupRead(BaseModel):
    """A top-up as its owner sees it."""

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0f3c1e-7d2a-4e69-b8f4-1a9c6e2d7b30",
                    "amount": "500.00",
                    "currency": "INR",
                    "status": "CREATED",
                    "reason": None,
                    "limit": None,
                    "order_id": "order_Ny3bHq8LrV2sXk",
                    "checkout_url": "http://127.0.0.1:8090/v1/checkout/embedded?key_id=rzp_test_tijori&order_id=order_Ny3bHq8LrV2sXk",
                    "created_at": "2025-01-15T11:00:00Z",
                    "updated_at": "2025-01-15T11:00:00Z",
                }
            ]
        },
    )

    id: str
    amount: Rupees = Field(validation_alias="amount_paise")
    currency: Literal["INR"] = "INR"
    status: TopupStatus
    reason: str | None
    limit: str | None = Field(
        default=None,
        validation_alias="limit_name",
        description=(
            "Which limit, when a REFUNDED top-up's reason is limit_exceeded: the wallet's "
            "balance_cap, monthly_load, yearly_load or kyc_upgrade_deadline; null otherwise."
        ),
    )
    order_id: str
    # where to send the user to pay; present while the top-up is CREATED
    checkout_url: str | None = None
    created_at: datetime
    updated_at: datetime


class WithdrawalRequest(BaseModel):
    """Send ``amount`` from the wallet to the bank account ``account_number`` at ``ifsc``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": "250.00",
                    "account_number": "50100123456789",
                    "ifsc": "HDFC0001234",
                    "account_name": "Asha Rao",
                }
            ]
        },
    )

    amount: Amount = Field(description="Rupees: a string or number, at most 2 decimals.")
    account_number: Annotated[str, Field(max_length=40), AfterValidator(_account_number)]
    ifsc: Annotated[str, Field(max_length=20), AfterValidator(_ifsc)]
    account_name: Annotated[str, Field(max_length=200), AfterValidator(_account_name)]


class BankAccountRead(BaseModel):
    """Where a withdrawal goes, the account number masked but its last four digits."""

    name: str
    ifsc: str
    account_last4: str


class WithdrawalRead(BaseModel):
    """A withdrawal as its owner sees it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9e7c1d2b-4a3f-4b6e-8c5d-0f1a2b3c4d5e",
                    "amount": "250.00",
                    "currency": "INR",
                    "status": "REQUESTED",
                    "reason": None,
                    "limit": None,
                    "account": {"name": "Asha Rao", "ifsc": "HDFC0001234", "account_last4": "6789"},
                    "payout_id": None,
                    "created_at": "2025-01-15T12:00:00Z",
                    "updated_at": "2025-01-15T12:00:00Z",
                }
            ]
        }
    )

    id: str
    amount: Rupees
    currency: Literal["INR"] = "INR"
    status: WithdrawalStatus
    reason: str | None
    limit: str | None = Field(
        default=None,
        description=(
            "Which limit, when a FAILED withdrawal's reason is limit_exceeded: the user's "
            "own daily cap, daily_amount or daily_count, as a FAILED transfer names it "
            "(docs/limits.md); null otherwise."
        ),
    )
    account: BankAccountRead
    payout_id: str | None
    created_at: datetime
    updated_at: datetime
