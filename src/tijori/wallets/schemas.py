"""Response bodies of the wallets service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tijori.common.money import Rupees

# The wallet of the API examples: Asha Rao's, after her promotion and a 40.00 transfer to Ravi.
_ASHA_USER_ID = "3f0c2b9e-8a41-4d6f-9b7a-2e5d1c4a6f10"
_ASHA_WALLET_ID = "6a1d9e4c-2f73-4b58-8c0e-d5b3a7f21e98"
_RAVI_WALLET_ID = "c2f85b17-9d4e-4a36-b1e7-0a6c3d9f8e25"
_PROMOTIONS_WALLET_ID = "00000000-0000-0000-0000-000000000001"


class WalletRead(BaseModel):
    """A wallet as its owner sees it."""

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ASHA_WALLET_ID,
                    "user_id": _ASHA_USER_ID,
                    "phone": "+919876543210",
                    "balance": "60.00",
                    "available": "60.00",
                    "currency": "INR",
                    "status": "ACTIVE",
                    "kyc_tier": "MINIMUM",
                    "created_at": "2025-01-15T09:30:01Z",
                    "updated_at": "2025-01-15T10:05:01Z",
                }
            ]
        },
    )

    id: str
    user_id: str
    phone: str
    balance: Rupees = Field(validation_alias="balance_paise", examples=["60.00"])
    # the balance less what withdrawals in progress hold
    available: Rupees = Field(validation_alias="available_paise", examples=["60.00"])
    currency: Literal["INR"]
    status: Literal["ACTIVE", "FROZEN"]
    # whose limits apply (docs/limits.md); only a FULL wallet withdraws to a bank
    kyc_tier: Literal["MINIMUM", "FULL"] = "MINIMUM"
    created_at: datetime
    updated_at: datetime


class LedgerEntryRead(BaseModel):
    """One entry of the owner's ledger: a credit (positive) or a debit (negative)."""

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        # newest first, as a page lists them
        json_schema_extra={
            "examples": [
                {
                    "id": 57,
                    "kind": "TRANSFER",
                    "reference": "e9b1c7d4-3a28-4f5e-8d61-7c2a9b0e4f13",
                    "amount": "-40.00",
                    "balance_after": "60.00",
                    "counterparty_wallet_id": _RAVI_WALLET_ID,
                    "created_at": "2025-01-15T10:05:01Z",
                },
                {
                    "id": 43,
                    "kind": "PROMOTION",
                    "reference": f"promo:{_ASHA_USER_ID}",
                    "amount": "100.00",
                    "balance_after": "100.00",
                    "counterparty_wallet_id": _PROMOTIONS_WALLET_ID,
                    "created_at": "2025-01-15T09:30:01Z",
                },
            ]
        },
    )

    id: int
    kind: Literal["PROMOTION", "TRANSFER", "TOPUP", "WITHDRAWAL", "PAYOUT_RETURN"]
    reference: str
    amount: Rupees = Field(validation_alias="amount_paise", examples=["-40.00"])
    balance_after: Rupees = Field(validation_alias="balance_after_paise", examples=["60.00"])
    counterparty_wallet_id: str
    created_at: datetime


class LimitRead(BaseModel):
    """One limit of the wallet's tier: how much it allows in its period, how much is
    used, and what is left."""

    name: Literal["balance_cap", "monthly_load", "yearly_load", "monthly_p2p"]
    # balance: at any moment; month: the calendar month; financial_year: April to March
    # (both in India's time)
    period: Literal["balance", "month", "financial_year"]
    limit: Rupees = Field(examples=["10000.00"])
    used: Rupees = Field(examples=["60.00"])
    left: Rupees = Field(examples=["9940.00"])


class LimitsRead(BaseModel):
    """The limits of the caller's wallet, by its KYC tier (docs/limits.md)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tier": "MINIMUM",
                    "limits": [
                        {
                            "name": "balance_cap",
                            "period": "balance",
                            "limit": "10000.00",
                            "used": "60.00",
                            "left": "9940.00",
                        },
                        {
                            "name": "monthly_load",
                            "period": "month",
                            "limit": "10000.00",
                            "used": "0.00",
                            "left": "10000.00",
                        },
                        {
                            "name": "yearly_load",
                            "period": "financial_year",
                            "limit": "120000.00",
                            "used": "0.00",
                            "left": "120000.00",
                        },
                        {
                            "name": "monthly_p2p",
                            "period": "month",
                            "limit": "10000.00",
                            "used": "40.00",
                            "left": "9960.00",
                        },
                    ],
                }
            ]
        }
    )

    tier: Literal["MINIMUM", "FULL"]
    limits: list[LimitRead]
