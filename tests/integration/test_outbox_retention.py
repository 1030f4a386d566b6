"""The outbox relay's retention on MariaDB itself: rows published longer ago than the
retention go a batch at a time, and nothing newer or unpublished goes with them."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from sqlalchemy import func, insert, select

from tijori.common.bus import KafkaBus
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork, create_engine, create_sessionmaker
from tijori.common.outbox import PURGE_BATCH, OutboxRelay
from tijori.wallets.models import OutboxMessage


async def test_old_published_rows_go_in_batches_and_the_rest_stays(scratch_database: str) -> None:
    engine = create_engine(scratch_database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(OutboxMessage.__table__.create)  # type: ignore[attr-defined]
        now = utcnow()
        # (key, published_at): the old ones past the retention, one recent, one unsent
        kinds = [("old", now - timedelta(days=8))] * (PURGE_BATCH + 500)
        kinds += [("kept", now - timedelta(hours=1)), ("kept", None)]
        rows = [
            {
                "event_id": str(uuid4()),
                "topic": "user.created",
                "key": key,
                "body": "{}",
                "created_at": published_at or now,
                "published_at": published_at,
            }
            for key, published_at in kinds
        ]
        async with engine.begin() as connection:
            await connection.execute(insert(OutboxMessage), rows)
        sessions = create_sessionmaker(engine)
        relay = OutboxRelay(
            units=lambda: UnitOfWork(sessions),
            model=OutboxMessage,
            bus=KafkaBus("unused:9092"),
            retention_seconds=7 * 24 * 3600,
        )
        assert [await relay.purge_batch() for _ in range(3)] == [PURGE_BATCH, 500, 0]
        async with engine.connect() as connection:
            left = (
                await connection.execute(
                    select(OutboxMessage.key, func.count()).group_by(OutboxMessage.key)
                )
            ).all()
        assert dict(left) == {"kept": 2}
    finally:
        await engine.dispose()
