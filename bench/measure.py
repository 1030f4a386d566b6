"""What the benchmark measures, and how, without loading the system it measures.

Accept latency is the client's: the HTTP round trip of ``POST /api/transactions``.
Settlement is read from the transactions database directly: ``created_at`` is written
when the transfer is accepted and ``updated_at`` when it turns SUCCESS or FAILED, both
by the transactions service's clock, so settle latency is ``updated_at - created_at``.
The wallets database's ``transfers.created_at`` (when wallets decided) splits settle
latency in two. While the load runs, progress costs two index-only queries on the
transactions database and one on each outbox every two seconds; the rest is read once,
after the phase.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ACCEPTED = "accepted"
REFUSED_PREFIX = "refused:"
# the note of the probe transfers that tell when the system answers again; never counted
PROBE_NOTE = "bench-probe"


@dataclass(frozen=True)
class Settlement:
    """One transaction row of a phase, as the transactions database holds it."""

    transaction_id: str
    status: str
    reason: str | None
    created_at: float  # unix seconds
    updated_at: float


async def last_seq(engine: AsyncEngine) -> int:
    """The newest transaction's ``seq``: a phase's transactions are those after it."""
    async with engine.connect() as connection:
        found = await connection.execute(text("SELECT COALESCE(MAX(seq), 0) FROM transactions"))
        return int(found.scalar_one())


async def progress(engine: AsyncEngine, after_seq: int) -> tuple[int, int]:
    """``(transactions stored since after_seq, of which still PENDING)``; both index-only."""
    async with engine.connect() as connection:
        newest = (
            await connection.execute(text("SELECT COALESCE(MAX(seq), 0) FROM transactions"))
        ).scalar_one()
        pending = (
            await connection.execute(
                text("SELECT COUNT(*) FROM transactions WHERE status = 'PENDING' AND seq > :after"),
                {"after": after_seq},
            )
        ).scalar_one()
    return max(0, int(newest) - after_seq), int(pending)


async def outbox_backlog(engine: AsyncEngine) -> int:
    """Events a service has written but not yet published (its ``ix_outbox_unpublished``)."""
    async with engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    text("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
                )
            ).scalar_one()
        )


async def mail_states(engine: AsyncEngine) -> dict[str, int]:
    """How many e-mails of the run are SENT, PENDING (waiting or being retried), FAILED.

    A transfer is settled when its status is; its two e-mails may still be on their way.
    """
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT status, COUNT(*) FROM notifications GROUP BY status")
        )
        counts = {str(status).lower(): int(count) for status, count in rows}
    return {state: counts.get(state, 0) for state in ("sent", "pending", "failed")}


async def accounts_known(engine: AsyncEngine) -> int:
    """How many wallets the transactions service can pay (its directory of accounts)."""
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT COUNT(*) FROM accounts"))).scalar_one())


async def settlements(engine: AsyncEngine, after_seq: int) -> list[Settlement]:
    """Every transaction stored after ``after_seq``, read once when the phase is over."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT id, status, reason, created_at, updated_at FROM transactions "
                    "WHERE seq > :after AND (note IS NULL OR note <> :probe)"
                ),
                {"after": after_seq, "probe": PROBE_NOTE},
            )
        ).all()
    return [
        Settlement(row[0], row[1], row[2], _unix(row[3]), _unix(row[4]))
        for row in rows  # the columns hold naive UTC
    ]


async def decisions(engine: AsyncEngine, since: float) -> dict[str, float]:
    """When the wallets service decided each transfer (its ``transfers.created_at``), for
    the transfers it decided after ``since`` (unix seconds)."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT transaction_id, created_at FROM transfers WHERE created_at >= :since"),
                {"since": datetime.fromtimestamp(since, UTC).replace(tzinfo=None)},
            )
        ).all()
    return {row[0]: _unix(row[1]) for row in rows}


def _unix(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def percentiles(values_ms: list[float]) -> dict[str, float | int | None]:
    """p50, p95, p99, max and mean of latencies in milliseconds (None when there are none)."""
    if not values_ms:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    array = np.asarray(values_ms, dtype=float)
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return {
        "count": int(array.size),
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "max": round(float(array.max()), 2),
        "mean": round(float(array.mean()), 2),
    }


def per_second(moments: list[float], *, start: float, seconds: int) -> list[int]:
    """How many of ``moments`` (unix seconds) fall in each second after ``start``."""
    counts = [0] * max(seconds, 0)
    for moment in moments:
        index = math.floor(moment - start)
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


def summarize_phase(
    load: dict[str, Any],
    rows: list[Settlement],
    decided: dict[str, float],
    *,
    duration: float,
    settle_wait_seconds: float,
) -> dict[str, Any]:
    """The numbers of one phase from the generator's records, the transactions database's
    rows and the wallets database's decision times."""
    records: list[tuple[float, float, str, str]] = [tuple(r) for r in load["records"]]
    # the window: while the generator was sending; ``end`` also waits for the last answers
    start, end = float(load["started_at"]), float(load["ended_at"])
    window_end = start + duration
    outcomes = Counter(record[2] for record in records)
    accepted = [record for record in records if record[2] == ACCEPTED]
    errors = {
        kind: count
        for kind, count in outcomes.items()
        if kind != ACCEPTED and not kind.startswith(REFUSED_PREFIX)
    }
    by_id = {row.transaction_id: row for row in rows}
    settled = [row for row in rows if row.status != "PENDING"]
    settled_in_window = sum(1 for row in settled if start <= row.updated_at < window_end)
    accepted_in_window = sum(1 for r in accepted if start <= r[0] + r[1] / 1000 < window_end)
    accepted_ids = {record[3] for record in accepted}
    lost = len(accepted_ids - by_id.keys())
    if lost:
        errors["accepted_but_not_stored"] = lost
    still_pending = sum(1 for row in rows if row.status == "PENDING")
    if still_pending:
        errors["still_pending_after_wait"] = still_pending
    last_settled = max((row.updated_at for row in settled), default=end)
    span = max(1, math.ceil(max(end, last_settled) - start))
    statuses = Counter(
        row.status if row.status != "FAILED" else f"FAILED:{row.reason}" for row in rows
    )
    return {
        "duration_s": round(duration, 2),
        "last_answer_s": round(end - start, 2),
        "sent": len(records),
        "accepted": len(accepted),
        "refused": {k: v for k, v in outcomes.items() if k.startswith(REFUSED_PREFIX)},
        "errors": errors,
        "error_count": sum(errors.values()),
        "outcomes": dict(statuses),
        "still_pending": still_pending,
        "offered_per_s": round(len(records) / duration, 1),
        # answered 202 / settled within the window, per second of it: the sustained rates
        "accepted_per_s": round(accepted_in_window / duration, 1),
        "settled_per_s": round(settled_in_window / duration, 1),
        # every settled transfer of the phase over the time until the last one settled
        "settled_per_s_until_drained": round(len(settled) / max(last_settled - start, 1e-9), 1),
        "drain_s": round(max(0.0, last_settled - window_end), 2),
        "settle_wait_s": round(settle_wait_seconds, 2),
        "accept_ms": percentiles([record[1] for record in accepted]),
        "settle_ms": percentiles([(row.updated_at - row.created_at) * 1000 for row in settled]),
        # settle = accepted -> wallets decides (relay, Kafka, wallets) + decided -> settled
        "settle_parts_ms": {
            "until_wallets_decided": percentiles(
                [
                    (decided[r.transaction_id] - r.created_at) * 1000
                    for r in settled
                    if r.transaction_id in decided
                ]
            ),
            "until_transactions_recorded": percentiles(
                [
                    (r.updated_at - decided[r.transaction_id]) * 1000
                    for r in settled
                    if r.transaction_id in decided
                ]
            ),
        },
        "generator": {
            "cpu_seconds": load["cpu_seconds"],
            "cpu_share": round(load["cpu_seconds"] / max(end - start, 1e-9), 3),
            "send_lag_ms": percentiles(load["lag_ms"]) if load["lag_ms"] else None,
        },
        "series": {
            "start": start,
            "sent": per_second([r[0] for r in records], start=start, seconds=span),
            "accepted": per_second(
                [r[0] + r[1] / 1000 for r in accepted], start=start, seconds=span
            ),
            "settled": per_second([row.updated_at for row in settled], start=start, seconds=span),
            "errors": per_second(
                [r[0] + r[1] / 1000 for r in records if r[2] in errors], start=start, seconds=span
            ),
            "accept_p99_ms": _per_second_p99(
                [(r[0] + r[1] / 1000, r[1]) for r in accepted], start=start, seconds=span
            ),
            "settle_p99_ms": _per_second_p99(
                [(row.updated_at, (row.updated_at - row.created_at) * 1000) for row in settled],
                start=start,
                seconds=span,
            ),
        },
    }


def _per_second_p99(
    samples: list[tuple[float, float]], *, start: float, seconds: int
) -> list[float | None]:
    """The p99 of the latencies of the samples whose moment falls in each second."""
    buckets: list[list[float]] = [[] for _ in range(seconds)]
    for moment, latency in samples:
        index = math.floor(moment - start)
        if 0 <= index < seconds:
            buckets[index].append(latency)
    return [round(float(np.percentile(bucket, 99)), 2) if bucket else None for bucket in buckets]
