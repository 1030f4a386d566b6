"""Settings of the wallets service."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from tijori.common.config import CommonSettings
from tijori.common.money import parse_paise


class WalletsSettings(CommonSettings):
    """``TIJORI_*`` variables the wallets service reads."""

    service_name: str = "wallets"
    database_url: str | None = Field(None, validation_alias="TIJORI_WALLETS_DATABASE_URL")
    # rupees in the environment ("100.00"), paise in here
    promo_balance: Annotated[int, BeforeValidator(parse_paise), Field(ge=0)] = "100.00"  # type: ignore[assignment]

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("wallets")
