"""The purge of expired sessions on MariaDB itself, its schema migrated to the head
(migration 0007's index included): sessions that expired past the retention go with
their refresh tokens, a batch at a time, and nothing newer goes with them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import func, insert, select, text

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork, create_engine, create_sessionmaker
from tijori.common.migrations import upgrade
from tijori.users import sessions
from tijori.users.config import UsersSettings
from tijori.users.models import RefreshToken, User, UserSession


async def test_sessions_expired_past_the_retention_go_with_their_refresh_tokens(
    scratch_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(upgrade, "users", scratch_database)  # Alembic runs its own loop
    settings = UsersSettings(session_retention_seconds=90 * 86_400)
    now = utcnow()
    user_id = str(uuid4())
    # (name, expired this long ago): five past the retention, two within it, one open
    ages = [("old", timedelta(days=91))] * 5 + [("kept", timedelta(days=89))] * 2
    ages += [("kept", -timedelta(days=10))]
    engine = create_engine(scratch_database)
    try:
        async with engine.begin() as connection:
            index = await connection.execute(
                text("SHOW INDEX FROM sessions WHERE Key_name = 'ix_sessions_expires_at'")
            )
            assert index.first() is not None
            await connection.execute(
                insert(User),
                [
                    {
                        "id": user_id,
                        "name": "Asha",
                        "email": "asha@example.com",
                        "email_normalized": "asha@example.com",
                        "phone": "+919812345678",
                        "password_hash": "x",
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            ids = [str(uuid4()) for _ in ages]
            await connection.execute(
                insert(UserSession),
                [
                    {
                        "id": session_id,
                        "user_id": user_id,
                        "device": name,
                        "created_at": now - age - timedelta(days=30),
                        "last_used_at": now - age - timedelta(days=30),
                        "expires_at": now - age,
                    }
                    for session_id, (name, age) in zip(ids, ages, strict=True)
                ],
            )
            await connection.execute(  # three refresh tokens each, two of them used
                insert(RefreshToken),
                [
                    {
                        "token_hash": uuid4().hex + uuid4().hex,
                        "session_id": session_id,
                        "created_at": now,
                        "used_at": now if n < 2 else None,
                    }
                    for session_id in ids
                    for n in range(3)
                ],
            )
        units = create_sessionmaker(engine)

        async def purge() -> int:
            async with UnitOfWork(units) as uow:
                purged = await sessions.purge_expired(uow, settings=settings, now=utcnow())
                await uow.commit()
            return purged

        monkeypatch.setattr(sessions, "PURGE_BATCH", 3)
        assert [await purge() for _ in range(3)] == [3, 2, 0]
        async with engine.connect() as connection:
            left = (
                await connection.execute(
                    select(UserSession.device, func.count()).group_by(UserSession.device)
                )
            ).all()
            tokens = await connection.scalar(select(func.count()).select_from(RefreshToken))
        assert dict(left) == {"kept": 3}
        assert tokens == 9
    finally:
        await engine.dispose()
