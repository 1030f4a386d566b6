"""Helpers for tests that move money through the gateway: each transfer carries the
payment token its sender's PIN bought for it, as the web client's do."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from tests.conftest import poll
from tests.integration.conftest import PIN, Person, set_pin, sign_up, wallet_of

# eventual consistency: a new wallet reaches the transactions directory a moment later
NOT_KNOWN_YET = {"receiver_not_found", "wallet_not_found"}

# what an unfreeze's payment token is bound to (wallets/freezes.py)
UNFREEZE = {"amount": 0, "idempotency_key": "wallet-unfreeze"}


async def two_people(
    client: httpx.AsyncClient, names: tuple[str, str] = ("Asha Rao", "Ravi Kumar")
) -> tuple[Person, Person]:
    """Sign up two people with their PINs and wait for both wallets to open."""
    first = await sign_up(client, name=names[0], pin=PIN)
    second = await sign_up(client, name=names[1], pin=PIN)
    await wallet_of(client, first)
    await wallet_of(client, second)
    return first, second


async def payment_token(
    client: httpx.AsyncClient, sender: Person, receiver: Any, amount: Any, key: str | bytes
) -> str | None:
    """The payment token ``sender``'s PIN buys for this one transfer (their PIN is set
    first if need be); ``None`` when users refuses to sign one for a malformed amount,
    receiver or key (the transfer then hears its own 422)."""
    if sender.pin is None:
        await set_pin(client, sender)
    body = {
        "pin": sender.pin,
        "amount": amount,
        "receiver": receiver,
        # a header is bytes; the service reads them as Latin-1
        "idempotency_key": key.decode("latin-1") if isinstance(key, bytes) else key,
    }
    answer = await client.post("/api/auth/payment-token", json=body, headers=sender.auth)
    if answer.status_code == 422:
        return None
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["payment_token"]
    return token


async def send(
    client: httpx.AsyncClient,
    sender: Person,
    receiver: Any,
    amount: Any,
    *,
    note: str | None = None,
    key: str | bytes | None = None,
    token: str | None = None,
    pay: bool = True,
    wait_known: float = 20,
) -> httpx.Response:
    """POST a transfer with its Idempotency-Key (a new one unless ``key``) and its
    payment token (``token``, else one bought with the sender's PIN; none when not
    ``pay``); retry while the parties are not yet known to the transactions service."""
    body: dict[str, Any] = {"receiver": receiver, "amount": amount}
    if note is not None:
        body["note"] = note
    key = key if key is not None else str(uuid.uuid4())
    if token is None and pay:
        token = await payment_token(client, sender, receiver, amount, key)
    headers = sender.auth | {"Idempotency-Key": key} | ({"X-Payment-Token": token} if token else {})
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


async def unfreeze_token(client: httpx.AsyncClient, person: Person, **body: Any) -> str:
    """The token ``person``'s PIN buys to unfreeze their wallet (``body`` instead, to
    buy one for something else)."""
    answer = await client.post(
        "/api/auth/payment-token", json={"pin": PIN, **UNFREEZE, **body}, headers=person.auth
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["payment_token"]
    return token


async def unfreeze(
    client: httpx.AsyncClient, person: Person, token: str | None, password: Any
) -> httpx.Response:
    """``POST /api/wallets/me/unfreeze`` with ``password`` (no body field when None) and
    ``token`` as ``X-Payment-Token``."""
    headers = person.auth | ({"X-Payment-Token": token} if token else {})
    body = {} if password is None else {"password": password}
    return await client.post("/api/wallets/me/unfreeze", json=body, headers=headers)
