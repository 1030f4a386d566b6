"""Settings of the users service."""

from __future__ import annotations

from pydantic import Field

from tijori.common.config import CommonSettings


class UsersSettings(CommonSettings):
    """``TIJORI_*`` variables the users service reads."""

    service_name: str = "users"
    database_url: str | None = Field(None, validation_alias="TIJORI_USERS_DATABASE_URL")
    jwt_ttl_seconds: int = 900
    user_cache_ttl_seconds: int = 300
    # failed log-ins allowed per username, and per client address, within the window
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 50
    login_window_seconds: int = 300

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("users")
