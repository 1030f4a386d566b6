"""Settings of the users service."""

from __future__ import annotations

from pydantic import Field, SecretStr

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
    # e-mail verification (users/verification.py, docs/security.md): unverified users log
    # in and look around but cannot pay, and their promotion waits for it. Off only for
    # a load test that signs up thousands (bench/stack.py) or a test stack not about it
    require_email_verification: bool = True
    email_code_ttl_seconds: int = Field(600, ge=60)  # a code is good for ten minutes
    email_code_max_attempts: int = Field(5, ge=1)  # wrong tries, then a new code is needed
    email_code_resend_seconds: int = Field(60, ge=1)  # a new code at most this often
    # sign-ups per client address an hour (0: no limit): high, since mobile carriers put
    # many people behind one address (CGNAT); the address is the one the log-in limit uses
    signup_limit_per_hour: int = Field(20, ge=0)
    # the transaction PIN (PRODUCT.md, "Transaction PIN"; docs/security.md)
    pin_secret: SecretStr | None = None  # the HMAC key PINs are kept under
    pin_max_failures: int = Field(3, ge=1)  # wrong PINs in a row that lock payments
    pin_lock_seconds: int = Field(86_400, ge=1)  # for this long
    payment_token_ttl_seconds: int = Field(120, ge=10, le=900)
    # log-in sessions and their refresh tokens (docs/architecture.md, "Sessions"): a
    # session lasts at most this long from its log-in, however often it is refreshed
    refresh_token_ttl_seconds: int = Field(30 * 86_400, ge=60)
    # and ends when no refresh (nor the log-in) has used it for this long
    session_idle_seconds: int = Field(7 * 86_400, ge=60)
    # and is deleted with its refresh tokens this long after its expiry, ended or not
    # (users/sessions.py, purge_expired); 0 keeps every session
    session_retention_seconds: int = Field(90 * 86_400, ge=0)
    # the KYC check (users/kyc.py, docs/limits.md): how often the loop asks the verifier
    # about checks under way, and how long the sandbox verifier takes to decide
    kyc_poll_seconds: float = Field(2.0, gt=0)
    kyc_sandbox_seconds: float = Field(1.0, ge=0)
    kyc_min_age_years: int = Field(18, ge=0)
    kyc_timezone: str = "Asia/Kolkata"

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("users")
