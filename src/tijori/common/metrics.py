"""What ``/metrics`` shows beyond HTTP: money, events and e-mail (Prometheus).

HTTP rate, errors and latency by route come from prometheus-fastapi-instrumentator
(``http_requests_total``, ``http_request_duration_seconds``). Counts of things that
happen inside a database transaction are added only when it commits
(:func:`count_after_commit`), so a retried transaction is not counted twice.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

TRANSFERS = Counter(
    "tijori_transfers_total",
    "Transfers by status reached: ACCEPTED, then SUCCESS or FAILED (transactions service)",
    ["status", "reason"],
)
LEDGER_TRANSFERS = Counter(
    "tijori_ledger_transfers_total",
    "Transfers the wallets service applied (money moved) or rejected",
    ["outcome", "reason"],
)
EMAILS = Counter(
    "tijori_emails_total",
    "E-mail delivery attempts by kind and outcome: sent, retrying or failed (for good)",
    ["kind", "outcome"],
)
EVENTS_PROCESSED = Counter(
    "tijori_events_processed_total",
    "Events a consumer took from Kafka: applied, duplicate (skipped) or malformed (dropped)",
    ["consumer", "event_type", "result"],
)
EVENT_APPLY_SECONDS = Histogram(
    "tijori_event_apply_seconds",
    "Time to apply one event, database transaction included",
    ["consumer", "event_type"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_LAG = Gauge(
    "tijori_consumer_lag_messages",
    "Messages in a partition not yet consumed by this consumer (high-water mark - position)",
    ["consumer", "topic", "partition"],
)
OUTBOX_BACKLOG = Gauge("tijori_outbox_backlog_events", "Outbox events not yet sent to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "tijori_outbox_oldest_age_seconds", "Age of the oldest outbox event not yet sent (0 if none)"
)
OUTBOX_PUBLISHED = Counter(
    "tijori_outbox_published_total", "Outbox events sent to Kafka", ["event_type"]
)

_PENDING = "tijori_metrics_pending"


def count_after_commit(session: AsyncSession, counter: Any, amount: float = 1) -> None:
    """Increment ``counter`` (a labelled child) when ``session``'s transaction commits."""
    session.info.setdefault(_PENDING, []).append((counter, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter, amount in session.info.pop(_PENDING, ()):
        counter.inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
