"""A steady stream of transfers, as careful clients send them, and the checks after a fault.

Each transfer is paid as the web client pays: the sender's PIN buys a payment token for
it (``POST /api/auth/payment-token``), sent with the transfer. Clients retry a request
that got no answer, or a 5xx, with the same Idempotency-Key (and the token they already
hold): that is what makes "accepted" well defined while services, the broker, Redis or
the database are going down and coming back.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Person

RETRY_FOR_SECONDS = 90


@dataclass
class Traffic:
    """Transfers among ``people`` from a few concurrent clients until stopped."""

    gateway: str
    people: list[Person]
    clients: int = 3
    pause: float = 0.15
    accepted: dict[str, Person] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    gave_up: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        """Begin sending."""
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]

    async def stop(self) -> None:
        """Let every request in flight finish, then stop."""
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _client(self, number: int) -> None:
        rng = random.Random(number * 7919 + int(time.time()))
        async with httpx.AsyncClient(base_url=self.gateway, timeout=10) as client:
            while not self._stop.is_set():
                sender, receiver = rng.sample(self.people, 2)
                await self._transfer(client, sender, receiver, f"{rng.randint(1, 300) / 100:.2f}")
                await asyncio.sleep(self.pause)

    async def _transfer(
        self, client: httpx.AsyncClient, sender: Person, receiver: Person, amount: str
    ) -> None:
        key = str(uuid.uuid4())
        body = {"receiver": receiver.phone, "amount": amount}
        token: str | None = None  # valid two minutes: longer than the retries take
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while time.monotonic() < deadline:
            try:
                if token is None:
                    answer = await client.post(
                        "/api/auth/payment-token",
                        json=body | {"pin": sender.pin, "idempotency_key": key},
                        headers=sender.auth,
                    )
                    if answer.status_code == 200:
                        token = str(answer.json()["payment_token"])
                if token is not None:
                    answer = await client.post(
                        "/api/transactions",
                        json=body,
                        headers=sender.auth | {"Idempotency-Key": key, "X-Payment-Token": token},
                    )
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 202:
                self.accepted[answer.json()["id"]] = sender
                return
            if answer is not None and answer.status_code < 500:
                self.refused[answer.json().get("code", str(answer.status_code))] += 1
                return
            self.retried += 1
            await asyncio.sleep(0.5)
        self.gave_up += 1


async def wait_until_settled(
    engine: AsyncEngine, ids: list[str], *, timeout: float = 120
) -> dict[str, str]:
    """Poll the transactions database until none of ``ids`` is PENDING; their statuses."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {}
        async with engine.connect() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = await connection.execute(
                    text("SELECT id, status FROM transactions WHERE id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": chunk},
                )
                statuses.update({str(i): str(s) for i, s in rows.all()})
        if len(statuses) == len(ids) and "PENDING" not in statuses.values():
            return statuses
        await asyncio.sleep(1)
    pending = [i for i in ids if statuses.get(i, "MISSING") in ("PENDING", "MISSING")]
    raise AssertionError(f"{len(pending)} transaction(s) still PENDING or missing: {pending[:5]}")


async def wait_until_mailed(engine: AsyncEngine, *, timeout: float = 120) -> None:
    """Poll the notifications database until no e-mail is waiting to be delivered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as connection:
            waiting = (
                await connection.execute(
                    text("SELECT COUNT(*) FROM notifications WHERE status = 'PENDING'")
                )
            ).scalar_one()
        if waiting == 0:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"{waiting} e-mail(s) still PENDING")


TRANSACTION_IN_MAIL = re.compile(r"Transaction: ([0-9a-f-]{36})")


def mail_counts(messages: list[Any]) -> Counter[tuple[str, str]]:
    """How many e-mails of each kind each transaction produced."""
    counts: Counter[tuple[str, str]] = Counter()
    for message in messages:
        body = message.get_body(preferencelist=("plain",))
        match = TRANSACTION_IN_MAIL.search(body.get_content() if body is not None else "")
        if match:
            counts[(match.group(1), str(message["X-Tijori-Kind"]))] += 1
    return counts
