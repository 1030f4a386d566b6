"""What a user has available, asked of wallets before a withdrawal is accepted.

Wallets is the authority: its hold decides every withdrawal under the wallet's lock.
This read only refuses a hopeless one at once (422 ``insufficient_funds``, as the
transfer pre-check does), through wallets' own public route with the caller's own
token, so payments reads no other service's tables and gains no right of its own. A
wallets that does not answer in ``wallets_timeout_seconds`` skips the check: the hold
still decides, a moment later.
"""

from __future__ import annotations

import logging

import httpx

from tijori.common.money import parse_paise

log = logging.getLogger(__name__)


class WalletsReader:
    """Reads the caller's wallet from the wallets service (any of its replicas)."""

    def __init__(
        self,
        urls: list[str],
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def available(self, authorization: str | None) -> int | None:
        """The caller's available paise (balance less holds), or ``None`` if no replica
        of wallets answered it."""
        if not authorization:
            return None
        for url in self.urls:
            try:
                answer = await self._http.get(
                    f"{url}/api/wallets/me", headers={"Authorization": authorization}
                )
            except httpx.HTTPError as error:
                log.warning("wallets at %s did not answer (%s): no pre-check", url, error)
                continue
            if answer.status_code == httpx.codes.OK:
                try:
                    return parse_paise(answer.json()["available"])
                except (ValueError, KeyError, TypeError):
                    log.error("wallets at %s answered an unexpected wallet", url)
                    return None
            if answer.status_code < httpx.codes.INTERNAL_SERVER_ERROR:
                return None  # no wallet yet (404): the hold will say so
        return None

    async def aclose(self) -> None:
        """Release the connections."""
        await self._http.aclose()
