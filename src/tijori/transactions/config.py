"""Settings of the transactions service."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from tijori.common.config import CommonSettings
from tijori.common.money import parse_paise
from tijori.common.periods import INDIA


class TransactionsSettings(CommonSettings):
    """``TIJORI_*`` variables the transactions service reads."""

    service_name: str = "transactions"
    database_url: str | None = Field(None, validation_alias="TIJORI_TRANSACTIONS_DATABASE_URL")
    # the most one transfer may move (rupees in the environment, paise in here)
    max_transfer: Annotated[int, BeforeValidator(parse_paise), Field(gt=0)] = "100000.00"  # type: ignore[assignment]
    # a transaction PENDING longer than this is sent to the wallets service again
    pending_timeout_seconds: float = Field(30.0, gt=0)
    redrive_poll_seconds: float = Field(5.0, gt=0)
    directory_cache_ttl_seconds: int = 3600
    # the time zone wallets counts its months and days in (the same variable): the
    # pre-check takes a counter of an earlier month or day as nothing used
    limits_timezone: str = INDIA

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("transactions")
