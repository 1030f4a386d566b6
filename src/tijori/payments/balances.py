"""What a user has available, and their wallet's KYC tier and status, asked of wallets
before a withdrawal is accepted.

Wallets is the authority: its hold decides every withdrawal under the wallet's lock.
This read only refuses a hopeless one at once (422 ``insufficient_funds``, as the
transfer pre-check does; 423 ``wallet_frozen``), through wallets' own public route with
the caller's own token, so payments reads no other service's tables and gains no right of its own. A
wallets that does not answer in ``wallets_timeout_seconds`` skips the check: the hold
still decides, a moment later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from tijori.common.money import parse_paise
from tijori.common.peers import Peer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownWallet:
    """What wallets answered of the caller's wallet: available paise, KYC tier and
    status (None from a wallets that does not say)."""

    available: int
    kyc_tier: str | None
    status: str | None = None


class WalletsReader:
    """Reads the caller's wallet from the wallets service (any of its replicas)."""

    def __init__(
        self,
        urls: list[str],
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.wallets = Peer("wallets", urls, timeout=timeout, transport=transport)

    async def available(self, authorization: str | None) -> int | None:
        """The caller's available paise (balance less holds), or ``None`` if no replica
        of wallets answered it."""
        known = await self.read(authorization)
        return known.available if known is not None else None

    async def read(self, authorization: str | None) -> KnownWallet | None:
        """The caller's available paise and KYC tier, or ``None`` if no replica of
        wallets answered them (then no pre-check); one request, whatever is asked of it."""
        if not authorization:
            return None
        answer = await self.wallets.ask("GET", "/api/wallets/me", authorization=authorization)
        if answer is None or answer.status_code != httpx.codes.OK:
            return None  # no answer, or no wallet yet (404): the hold will say so
        try:
            wallet = answer.json()
            tier, status = wallet.get("kyc_tier"), wallet.get("status")
            return KnownWallet(
                available=parse_paise(wallet["available"]),
                kyc_tier=tier if isinstance(tier, str) else None,
                status=status if isinstance(status, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            log.error("wallets answered an unexpected wallet")
            return None

    async def aclose(self) -> None:
        """Release the connections."""
        await self.wallets.aclose()
