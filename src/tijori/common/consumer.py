"""Idempotent consumers: each event's effect is applied exactly once per consumer.

The event id is recorded in ``processed_events`` in the same database transaction as
the effect (and any outbox rows it writes); Kafka offsets are committed only after that
transaction commits. A redelivered event finds its id already recorded and does nothing.
The messages a poll returns (from every partition, each partition's in its order) are
applied in one database transaction (one commit, the markers and effects of all of
them), falling back to one transaction per event if that fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from opentelemetry.trace import Span
from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from tijori.common.bus import MAX_BACKOFF_SECONDS, KafkaBus
from tijori.common.clock import stop_if_cancelled, utcnow
from tijori.common.db import UnitOfWork, UnitOfWorkFactory, retry_transient
from tijori.common.events import Envelope, UnknownEventError, parse_event
from tijori.common.metrics import CONSUMER_LAG, EVENT_APPLY_SECONDS, EVENTS_PROCESSED
from tijori.common.models import ProcessedEventMixin
from tijori.common.tracing import TRACEPARENT, start_span, within

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 2.0

Message = tuple[bytes, Sequence[tuple[str, bytes]]]
"""A message's value and headers."""


@dataclass(frozen=True)
class Delivery:
    """An event taken from Kafka, with the span its processing runs in."""

    event: Envelope[Any]
    span: Span


EventHandler = Callable[[UnitOfWork, Envelope[Any]], Awaitable[None]]
"""Applies one event inside the consumer's unit of work; never commits itself."""

Prefetch = Callable[[UnitOfWork, Sequence[Envelope[Any]]], Awaitable[None]]
"""Reads (and locks) at once what the handlers of these events will need, in the same
database transaction, before they run one by one: one query for a batch instead of one
per event. Handlers must give the same result with or without it."""


class _JoinedListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Marks its consumer as having joined its group once it is given its partitions."""

    def __init__(self, owner: IdempotentConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Nothing to do: offsets are committed after every batch."""

    async def on_partitions_assigned(self, assigned: object) -> None:
        """The group has this consumer (with none, some or all partitions)."""
        self.owner.joined = True


class IdempotentConsumer:
    """Consumes event types from Kafka and applies each once, in the order of its partition."""

    def __init__(
        self,
        *,
        name: str,
        bus: KafkaBus,
        units: UnitOfWorkFactory,
        processed_model: type[ProcessedEventMixin],
        handlers: Mapping[str, EventHandler],
        prefetch: Prefetch | None = None,
    ) -> None:
        self.name = name
        self.bus = bus
        self.units = units
        self.processed_model = processed_model
        # built once: which of a poll's events this consumer has applied already
        self._seen = select(processed_model.event_id).where(
            processed_model.consumer == name,
            processed_model.event_id.in_(bindparam("ids", expanding=True)),
        )
        self.handlers = dict(handlers)
        self.prefetch = prefetch
        self.applied = 0
        self.duplicates = 0
        # it has joined its consumer group (been assigned its partitions): from now on
        # it gets every new event; /ready waits for it (tijori.common.app)
        self.joined = False

    async def apply(self, event: Envelope[Any]) -> bool:
        """Apply ``event`` once; return False when it had already been applied."""
        handler = self.handlers[event.type]

        async def attempt() -> bool:
            try:
                async with self.units() as uow:
                    await self._mark_processed(uow, [event])  # a duplicate fails here
                    await handler(uow, event)
                    await uow.commit()
            except IntegrityError as error:
                if await self._already_processed(event.id):
                    return False
                raise error
            return True

        started = time.perf_counter()
        applied = await retry_transient(attempt, what=f"{self.name} applying {event.type}")
        elapsed = time.perf_counter() - started
        self._record([event] if applied else [], [] if applied else [event], elapsed)
        return applied

    async def _mark_processed(self, uow: UnitOfWork, events: Sequence[Envelope[Any]]) -> None:
        """Record ``events`` as applied by this consumer, at once: one that was already
        recorded fails the statement (``IntegrityError``) before any effect."""
        if events:
            now = utcnow()
            await uow.insert_now(
                self.processed_model,
                [
                    {"consumer": self.name, "event_id": event.id, "processed_at": now}
                    for event in events
                ],
            )

    def _record(
        self,
        applied: Sequence[Envelope[Any]],
        duplicates: Sequence[Envelope[Any]],
        seconds_each: float,
    ) -> None:
        """Count, time and log what one committed database transaction applied."""
        for event in applied:
            EVENT_APPLY_SECONDS.labels(self.name, event.type).observe(seconds_each)
            EVENTS_PROCESSED.labels(self.name, event.type, "applied").inc()
            log.info("%s applied %s %s", self.name, event.type, event.id)
        for event in duplicates:
            EVENTS_PROCESSED.labels(self.name, event.type, "duplicate").inc()
            log.info("%s skipped duplicate event %s (%s)", self.name, event.id, event.type)
        self.applied += len(applied)
        self.duplicates += len(duplicates)

    async def _already_processed(self, event_id: str) -> bool:
        async with self.units() as uow:
            found = await uow.session.get(self.processed_model, (self.name, event_id))
            return found is not None

    def _parse(self, message: Message) -> Delivery | None:
        raw, headers = message
        try:
            event = parse_event(raw)
        except (ValidationError, UnknownEventError) as error:
            log.error("%s dropped a malformed message: %s", self.name, error)
            EVENTS_PROCESSED.labels(self.name, "unknown", "malformed").inc()
            return None
        traceparent = next(
            (value.decode(errors="replace") for key, value in headers if key == TRACEPARENT),
            event.traceparent,
        )
        span = start_span(
            f"{event.type} process",
            traceparent=traceparent,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": event.id,
            },
        )
        return Delivery(event, span)

    async def apply_messages(self, messages: Sequence[Message]) -> None:
        """Apply the messages of one poll, in order, each once.

        They are applied in one database transaction (one commit for all); if that
        fails for any reason, one by one, each retried until it is applied, so a valid
        event is never skipped. Each event's work runs in its own span.
        """
        deliveries = [delivery for message in messages if (delivery := self._parse(message))]
        try:
            if len(deliveries) > 1:
                try:
                    await retry_transient(
                        lambda: self._apply_together(deliveries),
                        what=f"{self.name} applying {len(deliveries)} events",
                    )
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning(
                        "%s could not apply %d events together (%r); applying one by one",
                        self.name,
                        len(deliveries),
                        error,
                    )
            for delivery in deliveries:
                with within(delivery.span, correlation_id=delivery.event.correlation_id):
                    await self._apply_until_done(delivery.event)
        finally:
            for delivery in deliveries:
                delivery.span.end()

    async def _apply_together(self, deliveries: Sequence[Delivery]) -> None:
        started = time.perf_counter()
        ids = [delivery.event.id for delivery in deliveries]
        async with self.units() as uow:
            seen = set((await uow.session.scalars(self._seen, {"ids": ids})).all())
            fresh: list[Delivery] = []
            duplicates: list[Delivery] = []
            for delivery in deliveries:
                (duplicates if delivery.event.id in seen else fresh).append(delivery)
                seen.add(delivery.event.id)
            # a replica that applied one meanwhile fails it here
            await self._mark_processed(uow, [delivery.event for delivery in fresh])
            if self.prefetch is not None and fresh:
                await self.prefetch(uow, [delivery.event for delivery in fresh])
            for delivery in fresh:
                with within(delivery.span, correlation_id=delivery.event.correlation_id):
                    await self.handlers[delivery.event.type](uow, delivery.event)
            await uow.commit()
        seconds_each = (time.perf_counter() - started) / max(len(fresh), 1)
        for delivery in fresh:
            with within(delivery.span, correlation_id=delivery.event.correlation_id):
                self._record([delivery.event], [], seconds_each)
        self._record([], [delivery.event for delivery in duplicates], 0.0)

    async def _apply_until_done(self, event: Envelope[Any]) -> None:
        backoff = 0.5
        while True:
            try:
                await self.apply(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # never skip a valid event: hold the partition and try again
                log.exception("%s failed to apply %s %s; retrying", self.name, event.type, event.id)
                stop_if_cancelled()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def run(self) -> None:
        """Consume forever, reconnecting with backoff when the broker goes away."""
        backoff = 0.5
        while True:
            consumer = self.bus.consumer(self.name, self.handlers)
            self.joined = False
            consumer.subscribe(
                topics=sorted(consumer.subscription()), listener=_JoinedListener(self)
            )
            try:
                await consumer.start()
                backoff = 0.5
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("%s paused, retrying in %.1fs: %r", self.name, backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        measured = 0.0
        while True:
            # aiokafka's fetches await with wait_for too: a loop cancelled in one stops here
            stop_if_cancelled()
            batches = await consumer.getmany(timeout_ms=1000, max_records=200)
            # every partition's messages, each partition's in its order: one transaction
            messages = [
                (message.value, message.headers)
                for records in batches.values()
                for message in records
            ]
            if messages:
                await self.apply_messages(messages)
                await consumer.commit()  # only after every effect above has committed
            if time.monotonic() - measured >= LAG_INTERVAL_SECONDS:
                await self._measure_lag(consumer)
                measured = time.monotonic()

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                continue
            position = await consumer.position(partition)
            CONSUMER_LAG.labels(self.name, partition.topic, str(partition.partition)).set(
                max(highwater - position, 0)
            )
