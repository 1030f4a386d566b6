"""Response bodies of the wallets service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from tijori.common.money import RupeeAmount, Rupees

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
                    "frozen_by": None,
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
    # who froze a FROZEN wallet: its owner (who unfreezes it with password and PIN) or an
    # ADMIN (who alone unfreezes it); None when ACTIVE
    frozen_by: Literal["USER", "ADMIN"] | None = None
    # whose limits apply (docs/limits.md); only a FULL wallet withdraws to a bank
    kyc_tier: Literal["MINIMUM", "FULL"] = "MINIMUM"
    created_at: datetime
    updated_at: datetime


_FROZEN_WALLET: dict[str, Any] = {
    "id": _ASHA_WALLET_ID,
    "user_id": _ASHA_USER_ID,
    "phone": "+919876543210",
    "balance": "60.00",
    "available": "60.00",
    "currency": "INR",
    "status": "FROZEN",
    "frozen_by": "USER",
    "kyc_tier": "MINIMUM",
    "created_at": "2025-01-15T09:30:01Z",
    "updated_at": "2025-01-16T08:12:44Z",
}


class UnfreezeRequest(BaseModel):
    """Unfreeze my wallet: my password, with the `X-Payment-Token` my PIN bought for
    `{amount: 0, idempotency_key: "wallet-unfreeze"}`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "correct horse battery"}]}
    )

    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _reason(text: str) -> str:
    stripped = text.strip()
    if not stripped or not stripped.isprintable():
        raise PydanticCustomError(
            "validation_error", "a reason is some printable text, without control characters"
        )
    return stripped


class FreezeReason(BaseModel):
    """Why an ADMIN freezes or unfreezes a wallet: kept in its history and e-mailed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Reported stolen phone (ticket TJ-2026-000042)"}]
        },
    )

    reason: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_reason)]


class WalletFreezeRead(BaseModel):
    """One freeze or unfreeze of a wallet: by whom, why, when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: Literal["FREEZE", "UNFREEZE"]
    by: Literal["USER", "ADMIN"]
    actor_id: str
    reason: str | None
    created_at: datetime


class WalletFreezesRead(BaseModel):
    """A wallet's state and its freezes and unfreezes, newest first (ADMIN only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "wallet": _FROZEN_WALLET | {"frozen_by": "ADMIN"},
                    "freezes": [
                        {
                            "id": 7,
                            "action": "FREEZE",
                            "by": "ADMIN",
                            "actor_id": "9b2e4f61-0c3d-4a7e-8f15-6d2c1b0a9e37",
                            "reason": "Reported stolen phone (ticket TJ-2026-000042)",
                            "created_at": "2025-01-16T08:12:44Z",
                        }
                    ],
                }
            ]
        }
    )

    wallet: WalletRead
    freezes: list[WalletFreezeRead]


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


LimitName = Literal[
    "balance_cap",
    "monthly_load",
    "yearly_load",
    "monthly_p2p",
    "daily_amount",
    "daily_count",
]


class LimitRead(BaseModel):
    """One limit of the wallet: how much it allows in its period, how much is used, and
    what is left. ``daily_amount`` and ``daily_count`` are the user's own caps
    (``PUT /api/wallets/me/limits``): their ``limit`` and ``left`` are null while the
    user has set none. Money is rupees as strings (``unit: INR``); ``daily_count``
    counts payments, as integers (``unit: payments``)."""

    name: LimitName
    # balance: at any moment; day, month: the calendar day and month; financial_year:
    # April to March (all in India's time)
    period: Literal["balance", "day", "month", "financial_year"]
    unit: Literal["INR", "payments"] = "INR"
    limit: str | int | None = Field(examples=["10000.00"])
    used: str | int = Field(examples=["60.00"])
    left: str | int | None = Field(examples=["9940.00"])


class UserLimitsMax(BaseModel):
    """The highest daily caps a user may set (configuration; docs/limits.md)."""

    daily_amount: Rupees = Field(examples=["100000.00"])
    daily_count: int = Field(examples=[20])


_LIMITS_EXAMPLE: dict[str, Any] = {
    "tier": "MINIMUM",
    "limits": [
        {
            "name": "balance_cap",
            "period": "balance",
            "unit": "INR",
            "limit": "10000.00",
            "used": "60.00",
            "left": "9940.00",
        },
        {
            "name": "monthly_load",
            "period": "month",
            "unit": "INR",
            "limit": "10000.00",
            "used": "0.00",
            "left": "10000.00",
        },
        {
            "name": "yearly_load",
            "period": "financial_year",
            "unit": "INR",
            "limit": "120000.00",
            "used": "0.00",
            "left": "120000.00",
        },
        {
            "name": "monthly_p2p",
            "period": "month",
            "unit": "INR",
            "limit": "10000.00",
            "used": "40.00",
            "left": "9960.00",
        },
        {
            "name": "daily_amount",
            "period": "day",
            "unit": "INR",
            "limit": "500.00",
            "used": "40.00",
            "left": "460.00",
        },
        {
            "name": "daily_count",
            "period": "day",
            "unit": "payments",
            "limit": None,
            "used": 1,
            "left": None,
        },
    ],
    "user_limits_max": {"daily_amount": "100000.00", "daily_count": 20},
    "kyc_upgrade_deadline": "2027-01-15T09:30:01Z",
}


class LimitsRead(BaseModel):
    """The limits of the caller's wallet, by its KYC tier (docs/limits.md), with the
    user's own daily caps, the most they may set, and, for a minimum-KYC wallet, when
    it stops accepting credit unless upgraded to full KYC."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LIMITS_EXAMPLE]})

    tier: Literal["MINIMUM", "FULL"]
    limits: list[LimitRead]
    user_limits_max: UserLimitsMax
    # a minimum-KYC wallet past it takes no credit but refunds; null once full-KYC
    kyc_upgrade_deadline: datetime | None = None


DailyCount = Annotated[StrictInt, Field(gt=0)]


class UserLimitsRequest(BaseModel):
    """Set, lower, raise or remove the caller's own daily caps on the value and number of
    their payments (transfers and withdrawals). A field left out is unchanged; null
    removes that cap (the tier's limits alone then apply). Lowering takes effect at
    once; raising (a higher cap, or none) needs an `X-Payment-Token` (docs/limits.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"daily_amount": "500.00", "daily_count": 10},
                {"daily_amount": "2000.00"},
                {"daily_count": None},
            ]
        },
    )

    daily_amount: RupeeAmount | None = Field(
        None, description="Rupees a day, a string or number with at most 2 decimals; null: none."
    )
    daily_count: DailyCount | None = Field(None, description="Payments a day; null: none.")
