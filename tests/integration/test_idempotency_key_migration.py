"""Migration 0003 on MariaDB itself: the stored Idempotency-Keys keep their bytes, and
from then on keys that the old collation took for one another are two keys."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tijori.common.db import create_engine
from tijori.common.migrations import upgrade

_TRANSACTION = text(
    "INSERT INTO transactions (id, sender_id, receiver_id, amount_paise, currency, status,"
    " redrives, created_at, updated_at)"
    " VALUES (:id, 'u', 'v', 100, 'INR', 'PENDING', 0, NOW(6), NOW(6))"
)
_KEY = text(
    "INSERT INTO idempotency_keys (user_id, `key`, request_hash, transaction_id, created_at)"
    " VALUES ('u', :key, 'h', :id, NOW(6))"
)


async def test_keys_survive_the_migration_and_then_compare_byte_for_byte(
    scratch_database: str,
) -> None:
    await asyncio.to_thread(upgrade, "transactions", scratch_database, "0002")
    engine = create_engine(scratch_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(_TRANSACTION, {"id": "t-1"})
            await connection.execute(_KEY, {"key": "Invoice-Ä ✓", "id": "t-1"})
        await asyncio.to_thread(upgrade, "transactions", scratch_database, "head")
        async with engine.begin() as connection:
            for number, key in enumerate(["invoice-ä ✓", "Invoice-A ✓", "Invoice-Ä ✓ "], 2):
                await connection.execute(_TRANSACTION, {"id": f"t-{number}"})
                await connection.execute(_KEY, {"key": key.encode(), "id": f"t-{number}"})
            stored = await connection.execute(
                text("SELECT `key`, transaction_id FROM idempotency_keys ORDER BY transaction_id")
            )
            rows = [(bytes(key).decode(), transaction) for key, transaction in stored]
    finally:
        await engine.dispose()
    assert rows == [
        ("Invoice-Ä ✓", "t-1"),
        ("invoice-ä ✓", "t-2"),
        ("Invoice-A ✓", "t-3"),
        ("Invoice-Ä ✓ ", "t-4"),
    ]
