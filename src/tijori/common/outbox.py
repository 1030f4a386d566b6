"""The transactional outbox: events are rows written with the change, then relayed to Kafka."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from tijori.common.bus import MAX_BACKOFF_SECONDS, KafkaBus
from tijori.common.db import retry_transient, utcnow
from tijori.common.events import Envelope, Payload, new_event
from tijori.common.models import OutboxMessageMixin

log = logging.getLogger(__name__)

_OUTBOX_WRITTEN = "tijori_outbox_written"


def add_to_outbox(
    session: AsyncSession,
    model: type[OutboxMessageMixin],
    payload: Payload,
    *,
    key: str,
    correlation_id: str | None = None,
) -> Envelope[Any]:
    """Wrap ``payload`` in a new event and stage it in the outbox of ``session``'s
    transaction; it is sent after commit. Returns the event."""
    event = new_event(payload, correlation_id=correlation_id)
    body = event.model_dump_json()
    session.add(model(event_id=event.id, topic=event.type, key=key, body=body))  # type: ignore[call-arg]
    session.info[_OUTBOX_WRITTEN] = True
    return event


class OutboxRelay:
    """Publishes committed outbox rows in order, then marks them published.

    It wakes when a session of this process commits an event and otherwise polls, so
    rows written by a process that died, or by another replica, are sent too.
    A crash between publish and mark sends the event again: consumers deduplicate.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        model: type[OutboxMessageMixin],
        bus: KafkaBus,
        poll_seconds: float = 0.5,
        batch_size: int = 200,
        replay_seconds: float = 0,
    ) -> None:
        self.sessions = sessions
        self.model = model
        self.bus = bus
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.replay_seconds = replay_seconds
        self._wake = asyncio.Event()
        self.published = 0
        event.listen(sessions.kw["sync_session_class"], "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_OUTBOX_WRITTEN, False):
            self._wake.set()

    def wake(self) -> None:
        """Look for new rows now instead of at the next poll."""
        self._wake.set()

    async def publish_pending(self, producer: AIOKafkaProducer) -> int:
        """Publish one batch of unpublished rows; return how many were sent."""
        async with self.sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(self.model)
                    .where(self.model.published_at.is_(None))
                    .order_by(self.model.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            sends = [
                await producer.send(
                    self.bus.topic(row.topic), value=row.body.encode(), key=row.key.encode()
                )
                for row in rows
            ]
            await asyncio.gather(*sends)  # every one acknowledged by the broker (acks=all)
            published_at = utcnow()
            for row in rows:
                row.published_at = published_at
        self.published += len(rows)
        return len(rows)

    async def replay(self) -> int:
        """Publish again what was published in the last ``replay_seconds``.

        For a broker that may have restarted empty (the embedded one keeps nothing):
        whatever it lost is sent again, and consumers skip what they already applied.
        """
        since = utcnow() - timedelta(seconds=self.replay_seconds)
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(self.model)
                .where(self.model.published_at.is_not(None), self.model.published_at >= since)
                .values(published_at=None)
            )
        replayed = int(getattr(result, "rowcount", 0) or 0)
        if replayed:
            log.info(
                "replaying %d outbox event(s) from the last %.0fs", replayed, self.replay_seconds
            )
        return replayed

    async def run(self) -> None:
        """Relay forever; survive broker and database outages by retrying with backoff."""
        if self.replay_seconds > 0:
            await retry_transient(self.replay, what="outbox replay")
        backoff = 0.5
        while True:
            producer = self.bus.producer()
            try:
                await producer.start()
                backoff = 0.5
                while True:
                    sent = await self.publish_pending(producer)
                    if sent == self.batch_size:
                        continue
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox relay paused, retrying in %.1fs: %r", backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                await producer.stop()
