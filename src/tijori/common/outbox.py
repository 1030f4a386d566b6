"""The transactional outbox: events are rows written with the change, then relayed to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import bindparam, delete, func, select, update

from tijori.common.bus import MAX_BACKOFF_SECONDS, KafkaBus
from tijori.common.clock import utcnow, woken
from tijori.common.db import UnitOfWork, UnitOfWorkFactory, retry_transient
from tijori.common.events import Envelope, Payload, new_event
from tijori.common.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
    count_after_commit,
)
from tijori.common.models import OutboxMessageMixin
from tijori.common.tracing import TRACEPARENT, correlation_id_var, current_traceparent

log = logging.getLogger(__name__)

BACKLOG_INTERVAL_SECONDS = 5.0
PURGE_INTERVAL_SECONDS = 3600.0
"""How often the relay looks for rows published longer ago than its retention."""
PURGE_BATCH = 1000
"""Rows deleted in one transaction; while more are due, one batch every
:data:`BACKLOG_INTERVAL_SECONDS`, between publishing rounds (a week of a busy outbox
is never deleted in one go that would hold up the events behind it)."""


def add_to_outbox(
    uow: UnitOfWork,
    model: type[OutboxMessageMixin],
    payload: Payload,
    *,
    key: str,
    correlation_id: str | None = None,
    traceparent: str | None = None,
) -> Envelope[Any]:
    """Wrap ``payload`` in a new event and stage it in the outbox of ``uow``'s
    transaction (written at commit, with the transaction's other events); the relay is
    woken after the commit to send it. Returns the event.

    The event carries, unless given others, the current trace and correlation id, so
    whatever it causes is part of the same trace.
    """
    event = new_event(
        payload,
        correlation_id=correlation_id or correlation_id_var.get(),
        traceparent=traceparent or current_traceparent(),
    )
    uow.insert_at_commit(
        model,
        {
            "event_id": event.id,
            "topic": event.type,
            "key": key,
            "body": event.model_dump_json(),
            "created_at": event.occurred_at,
            "published_at": None,
        },
    )
    uow.after_commit(uow.wake_relay, once=True)
    return event


def trace_headers(body: str) -> list[tuple[str, bytes]]:
    """The Kafka headers of an outbox event: its trace context, where it has one."""
    traceparent = json.loads(body).get(TRACEPARENT)
    return [(TRACEPARENT, traceparent.encode())] if traceparent else []


class OutboxRelay:
    """Publishes committed outbox rows in order, then marks them published.

    It wakes when a unit of work of this process commits an event (:meth:`wake`) and
    otherwise polls, so
    rows written by a process that died, or by another replica, are sent too.
    A crash between publish and mark sends the event again: consumers deduplicate.
    Hourly it deletes the rows published more than ``retention_seconds`` ago (never one
    a replay on start would send again): nothing reads them after that, and an outbox
    kept whole grows by a row or two for every payment.
    """

    def __init__(
        self,
        *,
        units: UnitOfWorkFactory,
        model: type[OutboxMessageMixin],
        bus: KafkaBus,
        poll_seconds: float = 0.5,
        batch_size: int = 200,
        replay_seconds: float = 0,
        retention_seconds: float = 0,
    ) -> None:
        self.units = units
        self.model = model
        self.bus = bus
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.replay_seconds = replay_seconds
        # 0: published rows are kept forever
        self.retention_seconds = max(retention_seconds, replay_seconds) if retention_seconds else 0
        self._wake = asyncio.Event()
        self.published = 0
        # built once: building a statement costs more than running it
        self._unpublished = (
            select(model.id, model.topic, model.key, model.body)
            .where(model.published_at.is_(None))
            .order_by(model.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark_published = (
            update(model)
            .where(model.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=bindparam("at"))
        )
        self._purgeable = (
            select(model.id)
            .where(model.published_at.is_not(None), model.published_at < bindparam("before"))
            .order_by(model.published_at)
            .limit(PURGE_BATCH)
        )

    def wake(self) -> None:
        """Look for new rows now instead of at the next poll."""
        self._wake.set()

    async def publish_pending(self, producer: AIOKafkaProducer) -> int:
        """Publish one batch of unpublished rows; return how many were sent."""
        async with self.units() as uow:
            rows = (await uow.session.execute(self._unpublished)).all()
            if not rows:
                return 0
            sends = [
                await producer.send(
                    self.bus.topic(topic),
                    value=body.encode(),
                    key=key.encode(),
                    headers=trace_headers(body),
                )
                for _, topic, key, body in rows
            ]
            await asyncio.gather(*sends)  # every one acknowledged by the broker (acks=all)
            await uow.session.execute(
                self._mark_published, {"ids": [row_id for row_id, *_ in rows], "at": utcnow()}
            )
            for _, topic, _, _ in rows:
                count_after_commit(uow, OUTBOX_PUBLISHED.labels(topic))
            await uow.commit()
        self.published += len(rows)
        return len(rows)

    async def purge_batch(self) -> int:
        """Delete up to :data:`PURGE_BATCH` of the rows published more than
        ``retention_seconds`` ago, in one transaction; return how many. Replicas may
        purge at once: a row goes once."""
        if not self.retention_seconds:
            return 0
        before = utcnow() - timedelta(seconds=self.retention_seconds)
        async with self.units() as uow:
            ids = (await uow.session.scalars(self._purgeable, {"before": before})).all()
            if not ids:
                return 0
            await uow.session.execute(delete(self.model).where(self.model.id.in_(ids)))
            await uow.commit()
        log.info("deleted %d outbox row(s) published before %s", len(ids), before.isoformat())
        return len(ids)

    async def measure_backlog(self) -> None:
        """Set the outbox backlog gauges: events not yet sent, and the oldest one's age."""
        async with self.units() as uow:
            count, oldest = (
                await uow.session.execute(
                    select(func.count(), func.min(self.model.created_at)).where(
                        self.model.published_at.is_(None)
                    )
                )
            ).one()
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_AGE.set((utcnow() - oldest).total_seconds() if oldest is not None else 0)

    async def replay(self) -> int:
        """Publish again what was published in the last ``replay_seconds``.

        For a broker that may have restarted empty (the embedded one keeps nothing):
        whatever it lost is sent again, and consumers skip what they already applied.
        """
        since = utcnow() - timedelta(seconds=self.replay_seconds)
        async with self.units() as uow:
            result = await uow.session.execute(
                update(self.model)
                .where(self.model.published_at.is_not(None), self.model.published_at >= since)
                .values(published_at=None)
            )
            await uow.commit()
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
        next_purge = 0.0  # on the first round, then hourly
        while True:
            producer = self.bus.producer()
            try:
                await producer.start()
                backoff = 0.5
                measured = 0.0
                while True:
                    # cleared before looking, not after: a commit while this round
                    # publishes wakes the next one at once (cleared after, it waited
                    # for the poll, up to half a second)
                    self._wake.clear()
                    sent = await self.publish_pending(producer)
                    if time.monotonic() - measured >= BACKLOG_INTERVAL_SECONDS:
                        await self.measure_backlog()
                        measured = time.monotonic()
                    if time.monotonic() >= next_purge:
                        # set first: an outage does not make it try every round
                        next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                        if await self.purge_batch() == PURGE_BATCH:
                            next_purge = time.monotonic() + BACKLOG_INTERVAL_SECONDS
                    if sent == self.batch_size:
                        continue
                    await woken(self._wake, self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox relay paused, retrying in %.1fs: %r", backoff, error)
                with contextlib.suppress(Exception):  # the backlog grows while Kafka is away
                    await self.measure_backlog()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                await producer.stop()
