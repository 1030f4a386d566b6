"""Helpers for the tests of limits: wallets restarted with small ones, the limits route,
and the user's own daily caps set through it (a raise with the PIN's token)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.conftest import PIN, Person
from tests.integration.stack import Stack

# a ₹50 monthly person-to-person limit and a ₹120 balance cap: the ₹100 promotion
# reaches them
TIGHT = {
    "TIJORI_P2P_MONTHLY_LIMIT": "50.00",
    "TIJORI_BALANCE_CAP": "120.00",
}


@dataclass
class RestartedWallets:
    """Wallets running with other settings until :meth:`restore` restarts it as it was."""

    stack: Stack
    normal: dict[str, str]
    restored: bool = False

    def restore(self) -> None:
        """Restart wallets with the stack's own settings, once: a test may do it (to see
        what the restart does) and spare the fixture's end a restart of its own."""
        if self.restored:
            return
        self.restored = True
        self.stack.stop("wallets")
        self.stack.env.clear()
        self.stack.env.update(self.normal)
        self.stack.start("wallets")
        self.stack.wait_ready("wallets")


def wallets_restarted_with(stack: Stack, env: dict[str, str]) -> Iterator[RestartedWallets]:
    """Wallets restarted with ``env`` while the caller's fixture yields, then as it was."""
    restarted = RestartedWallets(stack, normal=dict(stack.env))
    stack.stop("wallets")
    stack.env.update(env)
    try:
        stack.start("wallets")
        stack.wait_ready("wallets")
        yield restarted
    finally:
        restarted.restore()


async def limits_of(client: httpx.AsyncClient, person: Person) -> dict[str, Any]:
    """``GET /api/wallets/me/limits`` of ``person``."""
    answer = await client.get("/api/wallets/me/limits", headers=person.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def by_name(limits: dict[str, Any]) -> dict[str, tuple[Any, Any, Any, Any]]:
    """Each limit's (period, limit, used, left), by its name."""
    return {
        item["name"]: (item["period"], item["limit"], item["used"], item["left"])
        for item in limits["limits"]
    }


async def set_caps(
    client: httpx.AsyncClient, person: Person, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    """``PUT /api/wallets/me/limits`` (with ``token`` as ``X-Payment-Token``)."""
    headers = person.auth | ({"X-Payment-Token": token} if token else {})
    return await client.put("/api/wallets/me/limits", json=body, headers=headers)


async def caps_token(client: httpx.AsyncClient, person: Person, amount: str, marker: str) -> str:
    """The token ``person``'s PIN buys for a raise: bound to the caps it leaves."""
    answer = await client.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": amount, "idempotency_key": marker},
        headers=person.auth,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["payment_token"]
    return token
