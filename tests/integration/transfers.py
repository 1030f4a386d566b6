"""Helpers for tests that move money through the gateway."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.conftest import poll
from tests.integration.conftest import Person, sign_up, wallet_of

# eventual consistency: a new wallet reaches the transactions directory a moment later
NOT_KNOWN_YET = {"receiver_not_found", "wallet_not_found"}


async def two_people(
    client: httpx.AsyncClient, names: tuple[str, str] = ("Asha Rao", "Ravi Kumar")
) -> tuple[Person, Person]:
    """Sign up two people and wait for both wallets to open."""
    first, second = await sign_up(client, name=names[0]), await sign_up(client, name=names[1])
    await wallet_of(client, first)
    await wallet_of(client, second)
    return first, second


async def send(
    client: httpx.AsyncClient,
    sender: Person,
    receiver: str,
    amount: Any,
    *,
    note: str | None = None,
    key: str | bytes | None = None,
    wait_known: float = 20,
) -> httpx.Response:
    """POST a transfer; retry while the parties are not yet known to the transactions service."""
    body: dict[str, Any] = {"receiver": receiver, "amount": amount}
    if note is not None:
        body["note"] = note
    headers = sender.auth | ({"Idempotency-Key": key} if key else {})
    deadline = time.monotonic() + wait_known
    while True:
        answer = await client.post("/api/transactions", json=body, headers=headers)
        if answer.status_code != 404 or answer.json().get("code") not in NOT_KNOWN_YET:
            return answer
        if time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def settled(
    client: httpx.AsyncClient, viewer: Person, transaction_id: str, timeout: float = 30
) -> Any:
    """Wait until the transaction is SUCCESS or FAILED; return it."""

    async def probe() -> Any:
        answer = await client.get(f"/api/transactions/{transaction_id}", headers=viewer.auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return body if body["status"] in ("SUCCESS", "FAILED") else None

    return await poll(probe, timeout=timeout, what=f"transaction {transaction_id} to settle")


async def balance(client: httpx.AsyncClient, person: Person) -> str:
    """The person's balance as the API shows it."""
    wallet = await wallet_of(client, person)
    return str(wallet["balance"])
