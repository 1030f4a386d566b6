"""Settings of the wallets service."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from tijori.common.config import CommonSettings
from tijori.common.money import parse_paise
from tijori.common.periods import INDIA


class WalletsSettings(CommonSettings):
    """``TIJORI_*`` variables the wallets service reads."""

    service_name: str = "wallets"
    database_url: str | None = Field(None, validation_alias="TIJORI_WALLETS_DATABASE_URL")
    # rupees in the environment ("100.00"), paise in here
    promo_balance: Annotated[int, BeforeValidator(parse_paise), Field(ge=0)] = "100.00"  # type: ignore[assignment]
    # a minimum-detail wallet's limits (RBI Master Direction on PPIs, 2021; docs/limits.md):
    # the most it may hold, the most money added to it a calendar month and a financial
    # year (April to March), and the most it sends to other people a calendar month
    # (the regulator allows none: an operator sets 0 to comply strictly), counted in
    # India's time zone
    balance_cap: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "10000.00"  # type: ignore[assignment]
    monthly_load_limit: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "10000.00"  # type: ignore[assignment]
    yearly_load_limit: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "120000.00"  # type: ignore[assignment]
    p2p_monthly_limit: Annotated[int, BeforeValidator(parse_paise), Field(ge=0)] = "10000.00"  # type: ignore[assignment]
    # a full-KYC wallet's: money added is bounded by the balance cap alone
    full_balance_cap: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "200000.00"  # type: ignore[assignment]
    full_p2p_monthly_limit: Annotated[int, BeforeValidator(parse_paise), Field(ge=0)] = "10000.00"  # type: ignore[assignment]
    limits_timezone: str = INDIA
    # the most a user may set as their own daily caps on the value and number of their
    # payments (docs/limits.md: UPI's ₹1,00,000 a day to people; the 20 payments a day
    # most banks allow, where NPCI's limit for payments to people is 10);
    # without a cap of their own (the default) only the tier's limits apply
    user_daily_amount_max: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "100000.00"  # type: ignore[assignment]
    user_daily_count_max: int = Field(20, gt=0, le=10_000)
    # a minimum-detail wallet must upgrade to full KYC within this many months of its
    # opening; after that it accepts no credit but refunds and reversals (PRODUCT.md)
    kyc_upgrade_months: int = Field(24, gt=0, le=1200)
    # a HELD hold nobody posted or voided this long is voided: longer than any payout
    # takes at the gateway (docs/payments.md, "Holds")
    hold_timeout_seconds: float = Field(7 * 24 * 3600.0, gt=0)
    hold_expiry_poll_seconds: float = Field(30.0, gt=0)
    # users' API (a comma-separated list: its replicas), asked to check the caller's own
    # password before a wallet is unfrozen, and how long that may take
    users_url: str = "http://127.0.0.1:8081"
    users_timeout_seconds: float = Field(3.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("wallets")
