"""Settings of the payment gateway sandbox (every one is described in docs/sandbox.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tijori.common.config import CommonSettings


class SandboxSettings(CommonSettings):
    """``TIJORI_*`` variables the sandbox reads.

    The key and secrets are the ones Tijori's payments service reads too
    (``TIJORI_PSP_*``), so one environment configures both ends; the defaults are
    test values that mean nothing anywhere else (docs/sandbox.md, "Settings").
    """

    service_name: str = "sandbox"
    psp_key_id: str = "rzp_test_tijori"
    psp_key_secret: str = "tijori-sandbox-key-secret"  # noqa: S105 - a test key
    psp_webhook_secret: str = "tijori-sandbox-webhook-secret"  # noqa: S105 - a test key
    # where events are posted: the gateway's route to the payments service
    sandbox_webhook_url: str = "http://127.0.0.1:8080/api/payments/webhooks/razorpay"
    sandbox_port: int = 8090
    # the first retry of a webhook that was not answered 2xx; each next one waits twice
    # as long, at most sandbox_webhook_max_retry_seconds, and delivery stops after
    # sandbox_webhook_give_up_seconds (24 hours, as Razorpay does)
    sandbox_webhook_retry_seconds: float = Field(1.0, gt=0)
    sandbox_webhook_max_retry_seconds: float = Field(60.0, gt=0)
    sandbox_webhook_give_up_seconds: float = Field(24 * 3600.0, gt=0)
    # how long the receiver has to answer, as Razorpay's 5 s
    sandbox_webhook_timeout_seconds: float = Field(5.0, gt=0)
    # how long a payout stays processing before it settles (and a reversed one stays
    # processed before it comes back)
    sandbox_payout_seconds: float = Field(1.0, ge=0)
    # how often the background loop looks for due webhooks and payouts
    sandbox_tick_seconds: float = Field(0.1, gt=0)

    @property
    def sandbox_state_file(self) -> Path:
        """The SQLite file that holds every order, payment, payout and webhook."""
        return self.data_dir / "sandbox" / "sandbox.sqlite3"
