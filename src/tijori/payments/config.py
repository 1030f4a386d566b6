"""Settings of the payments service and of its payment gateway."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from tijori.common.config import CommonSettings
from tijori.common.money import parse_paise

# what the gateway sandbox (``tijori serve sandbox``) accepts when nothing else is set
SANDBOX_KEY_ID = "rzp_test_tijori"
SANDBOX_KEY_SECRET = "tijori-sandbox-key-secret"  # noqa: S105 - a test gateway's, not a secret
SANDBOX_WEBHOOK_SECRET = "tijori-sandbox-webhook-secret"  # noqa: S105
SANDBOX_PORT = 8090

Paise = Annotated[int, BeforeValidator(parse_paise), Field(gt=0)]


class PaymentsSettings(CommonSettings):
    """``TIJORI_*`` variables the payments service reads (docs/payments.md)."""

    service_name: str = "payments"
    database_url: str | None = Field(None, validation_alias="TIJORI_PAYMENTS_DATABASE_URL")
    # the gateway: Razorpay's API (https://api.razorpay.com) or, unset, the sandbox
    psp_base_url: str | None = None
    sandbox_port: int = SANDBOX_PORT
    psp_key_id: str = SANDBOX_KEY_ID
    psp_key_secret: SecretStr = SecretStr(SANDBOX_KEY_SECRET)
    psp_webhook_secret: SecretStr = SecretStr(SANDBOX_WEBHOOK_SECRET)
    # the RazorpayX account payouts are paid from
    psp_payout_account: str = "7878780080316316"
    psp_timeout_seconds: float = Field(10.0, gt=0)
    # where a browser reaches Tijori: the gateway's checkout sends the user back here
    public_url: str = "http://127.0.0.1:8080"
    # one top-up and one withdrawal (rupees in the environment, paise in here); a top-up
    # is at most a minimum-detail wallet's monthly load (PRODUCT.md)
    min_topup: Paise = "1.00"  # type: ignore[assignment]
    max_topup: Paise = "10000.00"  # type: ignore[assignment]
    min_withdrawal: Paise = "1.00"  # type: ignore[assignment]
    max_withdrawal: Paise = "100000.00"  # type: ignore[assignment]
    # a top-up no webhook settled is checked at the gateway after this long, and one
    # never paid is FAILED (abandoned) after the second
    topup_check_after_seconds: float = Field(60.0, gt=0)
    topup_abandon_after_seconds: float = Field(3600.0, gt=0)
    # a payout the gateway did not answer is requested again (the same idempotency key)
    # after this long, doubling up to 5 minutes; one never accepted fails after the second
    payout_retry_seconds: float = Field(5.0, gt=0)
    payout_give_up_seconds: float = Field(86_400.0, gt=0)
    # a payout in progress no webhook settled is checked at the gateway after this long
    payout_check_after_seconds: float = Field(60.0, gt=0)
    check_poll_seconds: float = Field(5.0, gt=0)
    # wallets' API (a comma-separated list: its replicas), asked for the available
    # balance before a withdrawal is accepted, and how long that may take
    wallets_url: str = "http://127.0.0.1:8082"
    wallets_timeout_seconds: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _real_gateway_needs_real_keys(self) -> Self:
        if not self.psp_base_url:
            return self
        secrets = (
            self.psp_key_secret.get_secret_value(),
            self.psp_webhook_secret.get_secret_value(),
        )
        if (
            not all((self.psp_key_id, self.psp_payout_account, *secrets))
            or secrets[0] == SANDBOX_KEY_SECRET
            or secrets[1] == SANDBOX_WEBHOOK_SECRET
        ):
            raise ValueError(
                "TIJORI_PSP_BASE_URL is set: set TIJORI_PSP_KEY_ID, TIJORI_PSP_KEY_SECRET, "
                "TIJORI_PSP_WEBHOOK_SECRET and TIJORI_PSP_PAYOUT_ACCOUNT to the gateway's too"
            )
        return self

    @property
    def gateway_url(self) -> str:
        """The gateway's API: the configured one, or the local sandbox."""
        return (self.psp_base_url or f"http://127.0.0.1:{self.sandbox_port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.database_url or self.sqlite_url("payments")
