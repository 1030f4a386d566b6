"""Settings of the transactions service."""

from __future__ import annotations

from pydantic import Field

from tijori.common.config import CommonSettings


class TransactionsSettings(CommonSettings):
    """``TIJORI_*`` variables the transactions service reads."""

    service_name: str = "transactions"
    database_url: str | None = Field(None, validation_alias="TIJORI_TRANSACTIONS_DATABASE_URL")

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("transactions")
