"""Wallets' migration 0007 and payments' 0002 and 0003 on the embedded database: holds,
withdrawals and top-ups refused over a limit before them (the limit's name as their
reason) read as a refused transfer does after them: limit_exceeded, with the limit."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from tijori.common.db import create_engine
from tijori.common.migrations import upgrade
from tijori.wallets.models import PROMOTIONS_WALLET_ID


def _upgrade(service: str, url: str, revision: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:  # Alembic runs its own event loop
        worker.submit(upgrade, service, url, revision).result()


async def _rewritten(
    service: str, url: str, before: str, insert: str, rows: list[dict[str, str]], read: str
) -> list[tuple[str, str | None, str | None]]:
    await asyncio.to_thread(_upgrade, service, url, before)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for row in rows:
                await connection.execute(text(insert), row | {"wallet": PROMOTIONS_WALLET_ID})
        await asyncio.to_thread(_upgrade, service, url, "head")
        async with engine.begin() as connection:
            return [(row[0], row[1], row[2]) for row in await connection.execute(text(read))]
    finally:
        await engine.dispose()


REFUSED = [
    {"id": "h1", "reason": "daily_amount"},
    {"id": "h2", "reason": "daily_count"},
    {"id": "h3", "reason": "kyc_required"},
]
EXPECTED = [
    ("h1", "limit_exceeded", "daily_amount"),
    ("h2", "limit_exceeded", "daily_count"),
    ("h3", "kyc_required", None),
]


async def test_holds_refused_over_a_daily_cap_become_limit_exceeded(tmp_path: Path) -> None:
    insert = (
        "INSERT INTO holds (id, wallet_id, user_id, amount_paise, status, reason, expires_at,"
        " created_at, updated_at) VALUES (:id, :wallet, 'u', 100, 'REFUSED',"
        " :reason, '2026-12-01 00:00:00', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'wallets.db'}"
    read = "SELECT id, reason, limit_name FROM holds ORDER BY id"
    assert await _rewritten("wallets", url, "0006_user_limits", insert, REFUSED, read) == EXPECTED


async def test_withdrawals_failed_over_a_daily_cap_become_limit_exceeded(tmp_path: Path) -> None:
    insert = (
        "INSERT INTO withdrawals (id, user_id, amount_paise, status, reason, account_name,"
        " account_number, ifsc, idempotency_key, request_hash, payment_token_id, attempts,"
        " check_at, created_at, updated_at) VALUES (:id, 'u', 100, 'FAILED', :reason, 'Asha',"
        " '50100123456789', 'HDFC0001234', :id, 'h', :id, 0, '2026-12-01 00:00:00',"
        " '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}"
    read = "SELECT id, reason, limit_name FROM withdrawals ORDER BY id"
    assert await _rewritten("payments", url, "0001", insert, REFUSED, read) == EXPECTED


async def test_top_ups_refunded_over_a_limit_become_limit_exceeded(tmp_path: Path) -> None:
    insert = (
        "INSERT INTO topups (id, user_id, amount_paise, status, reason, order_id, refund_due,"
        " check_at, created_at, updated_at) VALUES (:id, 'u', 100, 'REFUNDED', :reason,"
        " :id, 0, '2026-12-01 00:00:00', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    )
    refused = [
        {"id": "t1", "reason": "balance_cap"},
        {"id": "t2", "reason": "monthly_load"},
        {"id": "t3", "reason": "yearly_load"},
        {"id": "t4", "reason": "kyc_upgrade_deadline"},
        {"id": "t5", "reason": "wallet_not_found"},
        {"id": "t6", "reason": "abandoned"},
    ]
    expected = [
        ("t1", "limit_exceeded", "balance_cap"),
        ("t2", "limit_exceeded", "monthly_load"),
        ("t3", "limit_exceeded", "yearly_load"),
        ("t4", "limit_exceeded", "kyc_upgrade_deadline"),
        ("t5", "wallet_not_found", None),
        ("t6", "abandoned", None),
    ]
    url = f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}"
    read = "SELECT id, reason, limit_name FROM topups ORDER BY id"
    before = "0002_withdrawals_limit_name"
    assert await _rewritten("payments", url, before, insert, refused, read) == expected
