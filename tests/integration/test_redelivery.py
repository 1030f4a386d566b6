"""At-least-once delivery, exactly-once effect: a redelivered user.created changes nothing."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll, unique_email, unique_phone
from tests.integration.stack import Stack
from tijori.common.events import UserCreated, new_event


async def _counts(wallets_db: AsyncEngine, user_id: str) -> tuple[int, int, int]:
    async with wallets_db.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM wallets WHERE user_id = :u),"
                    " (SELECT COUNT(*) FROM ledger_entries WHERE reference = :r),"
                    " (SELECT COALESCE(SUM(balance_paise), 0) FROM wallets WHERE user_id = :u)"
                ),
                {"u": user_id, "r": f"promo:{user_id}"},
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def test_the_same_user_created_delivered_twice_opens_one_wallet_with_one_promotion(
    stack: Stack, wallets_db: AsyncEngine
) -> None:
    user_id = str(uuid.uuid4())
    email = unique_email("twice")
    event = new_event(UserCreated(user_id=user_id, name="Twice", email=email, phone=unique_phone()))
    producer = AIOKafkaProducer(bootstrap_servers=stack.env["TIJORI_KAFKA_BOOTSTRAP"])
    await producer.start()
    try:
        topic = stack.env["TIJORI_KAFKA_TOPIC_PREFIX"] + "user.created"
        for _ in range(2):
            await producer.send_and_wait(
                topic, event.model_dump_json().encode(), key=user_id.encode()
            )
    finally:
        await producer.stop()

    async def opened() -> bool:
        return (await _counts(wallets_db, user_id))[0] == 1

    await poll(opened, what="the wallet to open")
    # the duplicate sits right behind the original in the same partition; give it time anyway
    await asyncio.sleep(2)
    assert await _counts(wallets_db, user_id) == (1, 2, 10_000)
    await stack.wait_for_mails(email, 1)
    await asyncio.sleep(1)
    assert len(stack.mails_to(email)) == 1
    assert "skipped duplicate event " + event.id in stack.log("wallets")


async def test_the_audit_finds_the_ledger_clean(stack: Stack) -> None:
    result = stack.tijori("audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tijori audit: clean" in result.stdout
