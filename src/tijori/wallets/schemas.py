"""Response bodies of the wallets service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tijori.common.money import Rupees


class WalletRead(BaseModel):
    """A wallet as its owner sees it."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: str
    user_id: str
    phone: str
    balance: Rupees = Field(validation_alias="balance_paise", examples=["100.00"])
    currency: Literal["INR"]
    status: Literal["ACTIVE", "FROZEN"]
    created_at: datetime
    updated_at: datetime


class LedgerEntryRead(BaseModel):
    """One entry of the owner's ledger: a credit (positive) or a debit (negative)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: int
    kind: Literal["PROMOTION", "TRANSFER"]
    reference: str
    amount: Rupees = Field(validation_alias="amount_paise", examples=["-25.50"])
    balance_after: Rupees = Field(validation_alias="balance_after_paise", examples=["74.50"])
    counterparty_wallet_id: str
    created_at: datetime
