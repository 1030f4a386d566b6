"""Users migration 0005 on MariaDB itself: the stored addresses get their normalised form,
and from then on addresses the old collation took for one another are two accounts,
while the normalised form stays unique byte for byte."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tijori.common.db import create_engine
from tijori.common.migrations import upgrade

_OLD_USER = text(
    "INSERT INTO users (id, name, email, phone, password_hash, authority, kyc, created_at,"
    " updated_at) VALUES (:id, 'A', :email, :phone, 'h', 'USER', 'MINIMUM', NOW(6), NOW(6))"
)
_NEW_USER = text(
    "INSERT INTO users (id, name, email, email_normalized, phone, password_hash, authority,"
    " kyc, created_at, updated_at)"
    " VALUES (:id, 'A', :email, :normalized, :phone, 'h', 'USER', 'MINIMUM', NOW(6), NOW(6))"
)


async def test_addresses_are_backfilled_and_then_compare_byte_for_byte(
    scratch_database: str,
) -> None:
    await asyncio.to_thread(upgrade, "users", scratch_database, "0004")
    engine = create_engine(scratch_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                _OLD_USER, {"id": "u-1", "email": "rť-a@x.co", "phone": "+919876500001"}
            )
            await connection.execute(
                _OLD_USER, {"id": "u-2", "email": "asha@example.com", "phone": "+919876500002"}
            )
            # the defect: under the old key the plain address was taken by the accented one
            with pytest.raises(IntegrityError):
                async with connection.begin_nested():
                    await connection.execute(
                        _OLD_USER, {"id": "u-x", "email": "rt-a@x.co", "phone": "+919876500009"}
                    )
        await asyncio.to_thread(upgrade, "users", scratch_database, "head")
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    text("SELECT id, email_normalized, email_verified FROM users ORDER BY id")
                )
            ).all()
            assert [(i, bytes(n).decode(), bool(v)) for i, n, v in rows] == [
                ("u-1", "rť-a@x.co", False),
                ("u-2", "asha@example.com", False),
            ]
            await connection.execute(
                _NEW_USER,
                {
                    "id": "u-3",
                    "email": "rt-a@x.co",
                    "normalized": b"rt-a@x.co",
                    "phone": "+919876500003",
                },
            )
            with pytest.raises(IntegrityError):
                async with connection.begin_nested():
                    await connection.execute(
                        _NEW_USER,
                        {
                            "id": "u-4",
                            "email": "Asha@example.com",
                            "normalized": b"asha@example.com",
                            "phone": "+919876500004",
                        },
                    )
    finally:
        await engine.dispose()
