"""The event bus: Apache Kafka through aiokafka.

Only what a plain Kafka-compatible broker offers is used (no idempotent producer, no
transactions): exactly-once effects come from the outbox and idempotent consumers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tijori.common.events import EVENT_TYPES, topic_name

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 3
# how long the relay and consumers wait, at most, before trying a lost broker again
MAX_BACKOFF_SECONDS = 4.0


class KafkaBus:
    """Connection settings shared by the producer and consumers of one service."""

    def __init__(
        self,
        bootstrap: str,
        *,
        prefix: str = "",
        client_id: str = "tijori",
        session_timeout_ms: int = 15000,
    ) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.client_id = client_id
        self.session_timeout_ms = session_timeout_ms

    def topic(self, event_type: str) -> str:
        """The topic name of ``event_type`` under this bus's prefix."""
        return topic_name(event_type, self.prefix)

    def producer(self) -> AIOKafkaProducer:
        """A producer that waits for every in-sync replica (acks=all)."""
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=2,
            request_timeout_ms=15000,
            retry_backoff_ms=200,
        )

    def consumer(self, group: str, event_types: Iterable[str]) -> AIOKafkaConsumer:
        """A consumer in ``group`` that commits offsets itself, after the database does."""
        return AIOKafkaConsumer(
            *(self.topic(name) for name in event_types),
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=f"{self.prefix}{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_uncommitted",
            max_poll_records=200,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.session_timeout_ms // 5,
        )

    async def ping(self) -> None:
        """Raise unless the broker answers a metadata request."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    async def create_topics(self, *, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
        """Create the topic of every event type that does not exist yet; return those made."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [self.topic(name) for name in EVENT_TYPES]
            missing = [name for name in wanted if name not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(name, num_partitions=partitions, replication_factor=1)
                            for name in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass  # another process made them first
            return missing
        finally:
            await admin.close()
