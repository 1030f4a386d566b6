"""Settings of the notifications service."""

from __future__ import annotations

from pydantic import Field

from tijori.common.config import CommonSettings


class NotificationsSettings(CommonSettings):
    """``TIJORI_*`` variables the notifications service reads."""

    service_name: str = "notifications"
    database_url: str | None = Field(None, validation_alias="TIJORI_NOTIFICATIONS_DATABASE_URL")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Tijori <no-reply@tijori.local>"
    # delivery tries before a notification is marked FAILED, and the first retry delay
    mail_max_attempts: int = Field(6, ge=1)
    mail_retry_base_seconds: float = Field(2.0, gt=0)
    mail_poll_seconds: float = 1.0

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("notifications")
