"""Transactions migration 0007 on MariaDB itself: the directory's stored addresses are
put in the form receivers are looked up by, and from then on an address is found only by
its own bytes, so addresses the old collation took for one another are two accounts."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tijori.common.db import create_engine
from tijori.common.migrations import upgrade

_ACCOUNT = text(
    "INSERT INTO accounts (user_id, wallet_id, name, email, phone, balance_paise, version,"
    " updated_at) VALUES (:id, :id, 'A', :email, :phone, 10000, 1, NOW(6))"
)
_FIND = text("SELECT user_id FROM accounts WHERE email = :email")


async def test_addresses_are_normalised_and_then_found_only_by_their_own_bytes(
    scratch_database: str,
) -> None:
    await asyncio.to_thread(upgrade, "transactions", scratch_database, "0005")
    engine = create_engine(scratch_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                _ACCOUNT, {"id": "u-1", "email": "rt-a@x.co", "phone": "+919876500001"}
            )
            # from before users' migration 0005: not in the form looked up by
            await connection.execute(
                _ACCOUNT, {"id": "u-2", "email": " Asha@Example.com", "phone": "+919876500002"}
            )
            # the defect: the look-alike found the plain address's account
            found = await connection.scalar(_FIND, {"email": "rť-a@x.co"})
            assert found == "u-1"
        await asyncio.to_thread(upgrade, "transactions", scratch_database, "head")
        async with engine.begin() as connection:
            for email, owner in (
                (b"rt-a@x.co", "u-1"),
                ("rť-a@x.co".encode(), None),
                (b"RT-A@x.co", None),
                (b"asha@example.com", "u-2"),
            ):
                assert await connection.scalar(_FIND, {"email": email}) == owner, email
            await connection.execute(
                _ACCOUNT, {"id": "u-3", "email": "rť-a@x.co".encode(), "phone": "+919876500003"}
            )
            assert await connection.scalar(_FIND, {"email": "rť-a@x.co".encode()}) == "u-3"
            with pytest.raises(IntegrityError):
                async with connection.begin_nested():
                    await connection.execute(
                        _ACCOUNT, {"id": "u-4", "email": b"rt-a@x.co", "phone": "+919876500004"}
                    )
    finally:
        await engine.dispose()
