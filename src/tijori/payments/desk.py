"""What the payments routes and loops share: the database, the gateway, the settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tijori.common.db import UnitOfWorkFactory
from tijori.common.errors import ProblemError
from tijori.payments.balances import WalletsReader
from tijori.payments.config import PaymentsSettings
from tijori.payments.razorpay import RazorpayClient


class GatewayUnavailableProblem(ProblemError):
    """The gateway did not answer (or refused our credentials): nothing was made."""

    status, code = 503, "gateway_unavailable"


@dataclass
class PaymentsDesk:
    """Built once at start-up (``runtime.components``): units of work on the payments
    database, the gateway client, the reader of available balances, and the loop that
    asks the gateway about what no webhook settled (woken when there is work now)."""

    units: UnitOfWorkFactory
    gateway: RazorpayClient
    wallets: WalletsReader
    settings: PaymentsSettings
    checks_due: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_checks(self) -> None:
        """Ask the gateway loop to look for due work now (after a commit)."""
        self.checks_due.set()

    def return_url(self, topup_id: str) -> str:
        """Where the gateway's checkout sends the user back to after paying."""
        return f"{self.settings.public_url.rstrip('/')}/api/payments/topups/{topup_id}/return"

    def checkout_url(self, order_id: str, topup_id: str) -> str:
        """The gateway's checkout page of an order."""
        return self.gateway.checkout_url(
            order_id=order_id,
            callback_url=self.return_url(topup_id),
            name="Tijori",
            description="Add money to your Tijori wallet",
        )

    def web_url(self, fragment: str) -> str:
        """A screen of the web client."""
        return f"{self.settings.public_url.rstrip('/')}/#/{fragment}"


def create_wallets_reader(settings: PaymentsSettings) -> WalletsReader:
    """The reader of available balances from wallets (each of its replicas in turn)."""
    urls = [url.strip() for url in settings.wallets_url.split(",") if url.strip()]
    return WalletsReader(urls, timeout=settings.wallets_timeout_seconds)


def create_gateway(settings: PaymentsSettings) -> RazorpayClient:
    """The client of the configured gateway (or of the local sandbox)."""
    return RazorpayClient(
        base_url=settings.gateway_url,
        key_id=settings.psp_key_id,
        key_secret=settings.psp_key_secret.get_secret_value(),
        payout_account_number=settings.psp_payout_account,
        timeout=settings.psp_timeout_seconds,
    )
