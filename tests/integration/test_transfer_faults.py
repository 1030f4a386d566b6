"""Transfers when things go wrong: redelivered events, a wallets outage, and a crowd."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll
from tests.integration.conftest import PIN, Person, sign_up, wallet_of
from tests.integration.stack import Stack
from tests.integration.transfers import balance, send, settled, two_people
from tijori.common.db import create_engine


@pytest.fixture(scope="module")
async def transactions_db(stack: Stack) -> Any:
    engine = create_engine(stack.database_url("transactions"))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def notifications_db(stack: Stack) -> Any:
    engine = create_engine(stack.database_url("notifications"))
    yield engine
    await engine.dispose()


async def _outbox_bodies(engine: AsyncEngine, topic: str, needle: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT body FROM outbox WHERE topic = :t AND body LIKE :n ORDER BY id"),
            {"t": topic, "n": f"%{needle}%"},
        )
        return [str(body) for body in rows.scalars()]


async def _publish(stack: Stack, event_type: str, bodies: list[str], *, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.env["TIJORI_KAFKA_BOOTSTRAP"])
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(
                stack.env["TIJORI_KAFKA_TOPIC_PREFIX"] + event_type, body.encode(), key=key.encode()
            )
    finally:
        await producer.stop()


async def _ledger(wallets_db: AsyncEngine, reference: str) -> list[int]:
    async with wallets_db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT amount_paise FROM ledger_entries WHERE reference = :r ORDER BY amount_paise"
            ),
            {"r": reference},
        )
        return [int(value) for value in rows.scalars()]


async def test_every_event_of_a_transfer_delivered_again_changes_nothing(
    stack: Stack,
    gateway: httpx.AsyncClient,
    wallets_db: AsyncEngine,
    transactions_db: AsyncEngine,
    notifications_db: AsyncEngine,
) -> None:
    meera, kabir = await two_people(gateway, ("Meera", "Kabir"))
    txn = (await send(gateway, meera, kabir.phone, "30.00")).json()
    await settled(gateway, meera, txn["id"])
    await stack.wait_for_mails(kabir.email, 2)

    initiated = await _outbox_bodies(transactions_db, "transaction.initiated", txn["id"])
    completed = await _outbox_bodies(wallets_db, "transfer.completed", txn["id"])
    final = await _outbox_bodies(transactions_db, "transaction.completed", txn["id"])
    assert (len(initiated), len(completed), len(final)) == (1, 1, 1)
    await _publish(stack, "transaction.initiated", initiated * 2, key=meera.id)
    await _publish(stack, "transfer.completed", completed * 2, key=meera.id)
    await _publish(stack, "transaction.completed", final * 2, key=meera.id)

    async def consumed() -> bool:
        return all(
            stack.log(service).count(f"skipped duplicate event {event_id}") >= 2
            for service, event_id in (
                ("wallets", initiated[0].split('"id":"')[1].split('"')[0]),
                ("transactions", completed[0].split('"id":"')[1].split('"')[0]),
                ("notifications", final[0].split('"id":"')[1].split('"')[0]),
            )
        )

    await poll(consumed, what="the duplicates to be consumed and skipped")
    assert await _ledger(wallets_db, txn["id"]) == [-3000, 3000]
    assert await balance(gateway, meera) == "70.00"
    assert await balance(gateway, kabir) == "130.00"
    assert (await settled(gateway, meera, txn["id"]))["status"] == "SUCCESS"
    async with notifications_db.connect() as connection:
        count = (
            await connection.execute(
                text(
                    "SELECT COUNT(*) FROM notifications "
                    "WHERE kind LIKE 'TRANSFER%' AND message LIKE :t"
                ),
                {"t": f"%{txn['id']}%"},
            )
        ).scalar_one()
    assert count == 2
    await asyncio.sleep(1)
    assert len(stack.mails_to(kabir.email)) == 2  # welcome and received, nothing twice


async def test_a_transfer_sent_while_wallets_is_down_is_re_driven_and_applied_once(
    stack: Stack, gateway: httpx.AsyncClient, wallets_db: AsyncEngine, transactions_db: AsyncEngine
) -> None:
    meera, kabir = await two_people(gateway, ("Meera", "Kabir"))
    warm = (await send(gateway, meera, kabir.phone, "1.00")).json()
    await settled(gateway, meera, warm["id"])

    stack.stop("wallets")
    try:
        txn = (await send(gateway, meera, kabir.phone, "20.00")).json()
        assert txn["status"] == "PENDING"

        async def redriven() -> bool:
            async with transactions_db.connect() as connection:
                count = (
                    await connection.execute(
                        text("SELECT redrives FROM transactions WHERE id = :id"), {"id": txn["id"]}
                    )
                ).scalar_one()
            return int(count) >= 2

        await poll(redriven, timeout=30, what="the transaction to be re-driven twice")
        current = await gateway.get(f"/api/transactions/{txn['id']}", headers=meera.auth)
        assert current.json()["status"] == "PENDING"
    finally:
        stack.start("wallets")
        stack.wait_ready("wallets")
    done = await settled(gateway, meera, txn["id"], timeout=60)
    assert done["status"] == "SUCCESS"
    await asyncio.sleep(2)  # let the re-driven copies arrive too
    assert await _ledger(wallets_db, txn["id"]) == [-2000, 2000]
    assert await balance(gateway, meera) == "79.00"
    assert "repeating its outcome" in stack.log("wallets")


async def test_hundreds_of_concurrent_transfers_keep_every_paisa(
    stack: Stack, gateway: httpx.AsyncClient, wallets_db: AsyncEngine
) -> None:
    people = [await sign_up(gateway, name=f"Crowd {n}", pin=PIN) for n in range(6)]
    for person in people:
        await wallet_of(gateway, person)
    # a second wallets replica in the same consumer group: partitions split, locks contend
    replica_log = (stack.workdir / "wallets-replica.log").open("ab")
    replica = subprocess.Popen(
        [sys.executable, "-m", "tijori", "serve", "wallets", "--port", "18092"],
        env=stack.env,
        stdout=replica_log,
        stderr=subprocess.STDOUT,
    )
    try:
        rng = random.Random(7)
        plan: list[tuple[Person, Person, str]] = []
        for _ in range(300):
            sender, receiver = rng.sample(people, 2)
            plan.append((sender, receiver, f"{rng.randint(1, 1500) / 100:.2f}"))
        # both directions between the same pair at the same moment
        plan += [(people[0], people[1], "3.00"), (people[1], people[0], "3.00")] * 10
        rng.shuffle(plan)
        gate = asyncio.Semaphore(24)

        async def one(sender: Person, receiver: Person, amount: str) -> httpx.Response:
            async with gate:
                return await send(gateway, sender, receiver.phone, amount)

        answers = await asyncio.gather(*(one(*step) for step in plan))
        statuses = Counter(answer.status_code for answer in answers)
        assert set(statuses) <= {202, 422}, statuses
        refused = Counter(a.json()["code"] for a in answers if a.status_code == 422)
        assert set(refused) <= {"insufficient_funds"}, refused
        accepted = [
            (step[0], a.json()["id"])
            for step, a in zip(plan, answers, strict=True)
            if a.status_code == 202
        ]
        assert len(accepted) > 100
        outcomes = Counter()
        for sender, txn_id in accepted:
            done = await settled(gateway, sender, txn_id, timeout=90)
            outcomes[(done["status"], done["reason"])] += 1
        assert set(outcomes) <= {("SUCCESS", None), ("FAILED", "insufficient_funds")}, outcomes
    finally:
        replica.terminate()
        replica.wait(timeout=15)

    balances = [await balance(gateway, person) for person in people]
    paise = [round(float(b) * 100) for b in balances]
    assert sum(paise) == 600_00, balances
    assert min(paise) >= 0, balances
    result = stack.tijori("audit")
    assert result.returncode == 0, result.stdout + result.stderr
