"""Asking another Tijori service's own public route, as the caller: the shared part of
payments reading the caller's wallet before a withdrawal and wallets asking users to
check a password before an unfreeze.

The caller's own bearer token goes with the request, so the asking service gains no
right of its own and reads no other service's tables. Each replica is tried in turn
until one answers below 500; what that answer means is the asker's to decide.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


class Peer:
    """Another service, by the base URLs of its replicas."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.urls = [url.rstrip("/") for url in urls]
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def ask(
        self, method: str, path: str, *, authorization: str, json: Any = None
    ) -> httpx.Response | None:
        """The first answer below 500 from any replica, or ``None`` when none gave one
        (no answer in time, or a server error)."""
        for url in self.urls:
            try:
                answer = await self._http.request(
                    method, f"{url}{path}", json=json, headers={"Authorization": authorization}
                )
            except httpx.HTTPError as error:
                log.warning("%s at %s did not answer %s (%s)", self.name, url, path, error)
                continue
            if answer.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
                log.warning("%s at %s answered %s %d", self.name, url, path, answer.status_code)
                continue
            return answer
        return None

    async def aclose(self) -> None:
        """Release the connections."""
        await self._http.aclose()
