"""The sandbox's state in one SQLite file, so that it survives a restart.

Razorpay's entities (orders, payments, refunds, payouts, fund accounts) are kept as
the JSON the API answers with, beside the few columns they are looked up by; the
payout idempotency keys, the payout steps still to come and the webhook delivery
queue have tables of their own. One connection, one transaction at a time: every
read and write happens inside :meth:`Store.transaction`, so what one request does
(a payment, its order and its webhooks) is kept all together or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    parent_id TEXT,
    reference_id TEXT,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_by_parent ON entities (kind, parent_id);
CREATE INDEX IF NOT EXISTS entities_by_time ON entities (kind, created_at);
CREATE TABLE IF NOT EXISTS payout_keys (
    idempotency_key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    payout_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payout_steps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id TEXT NOT NULL,
    due_at REAL NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    order_key REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
"""


@dataclass(frozen=True)
class PayoutStep:
    """A status a payout moves to once ``due_at`` (unix seconds) has passed."""

    seq: int
    payout_id: str
    due_at: float
    status: str


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: an event (its exact body) to post, and how it went.

    ``status`` is ``pending`` (to be posted at ``next_attempt_at``), ``held`` (kept
    back by the ``reorder`` switch), ``delivered``, ``dropped`` (lost on purpose) or
    ``failed`` (not answered 2xx for 24 hours).
    """

    seq: int
    event_id: str
    event: str
    body: bytes
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    delivered_at: float | None


class Tx:
    """What one transaction may read and write."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def _rows(self, sql: str, *args: Any) -> list[aiosqlite.Row]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    # entities

    async def put(
        self,
        kind: str,
        entity: dict[str, Any],
        *,
        parent_id: str | None = None,
        reference_id: str | None = None,
    ) -> None:
        """Insert the entity, or replace the stored one with the same id."""
        await self._db.execute(
            "INSERT INTO entities (id, kind, parent_id, reference_id, created_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (
                entity["id"],
                kind,
                parent_id,
                reference_id,
                entity["created_at"],
                json.dumps(entity),
            ),
        )

    async def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """The entity of this kind with this id, or ``None``."""
        rows = await self._rows(
            "SELECT body FROM entities WHERE kind = ? AND id = ?", kind, entity_id
        )
        return json.loads(rows[0][0]) if rows else None

    async def children(self, kind: str, parent_id: str) -> list[dict[str, Any]]:
        """The entities of this kind under a parent (an order's payments), oldest first."""
        rows = await self._rows(
            "SELECT body FROM entities WHERE kind = ? AND parent_id = ? ORDER BY seq",
            kind,
            parent_id,
        )
        return [json.loads(row[0]) for row in rows]

    async def page(
        self,
        kind: str,
        *,
        count: int,
        skip: int,
        since: int | None = None,
        until: int | None = None,
        reference_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """A page of the entities of this kind, newest first, as Razorpay lists them."""
        sql = "SELECT body FROM entities WHERE kind = ?"
        args: list[Any] = [kind]
        if since is not None:
            sql += " AND created_at >= ?"
            args.append(since)
        if until is not None:
            sql += " AND created_at <= ?"
            args.append(until)
        if reference_id is not None:
            sql += " AND reference_id = ?"
            args.append(reference_id)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?"
        rows = await self._rows(sql, *args, count, skip)
        return [json.loads(row[0]) for row in rows]

    # payout idempotency keys

    async def payout_key(self, idempotency_key: str) -> tuple[str, str] | None:
        """The fingerprint and payout id a key was first used with, or ``None``."""
        rows = await self._rows(
            "SELECT fingerprint, payout_id FROM payout_keys WHERE idempotency_key = ?",
            idempotency_key,
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def remember_payout_key(
        self, idempotency_key: str, *, fingerprint: str, payout_id: str
    ) -> None:
        """Keep what a key was first used for."""
        await self._db.execute(
            "INSERT INTO payout_keys (idempotency_key, fingerprint, payout_id) VALUES (?, ?, ?)",
            (idempotency_key, fingerprint, payout_id),
        )

    # payout steps

    async def schedule(self, payout_id: str, *, due_at: float, status: str) -> None:
        """Move the payout to ``status`` once ``due_at`` has passed."""
        await self._db.execute(
            "INSERT INTO payout_steps (payout_id, due_at, status) VALUES (?, ?, ?)",
            (payout_id, due_at, status),
        )

    async def due_steps(self, now: float) -> list[PayoutStep]:
        """The payout steps whose time has come, in the order they are due."""
        rows = await self._rows(
            "SELECT seq, payout_id, due_at, status FROM payout_steps WHERE due_at <= ?"
            " ORDER BY due_at, seq",
            now,
        )
        return [PayoutStep(*row) for row in rows]

    async def forget_step(self, seq: int) -> None:
        """A step that was taken."""
        await self._db.execute("DELETE FROM payout_steps WHERE seq = ?", (seq,))

    # webhook deliveries

    async def add_delivery(
        self,
        *,
        event_id: str,
        event: str,
        body: bytes,
        status: str,
        created_at: float,
        next_attempt_at: float,
    ) -> int:
        """Queue a delivery of an event; its number."""
        cursor = await self._db.execute(
            "INSERT INTO deliveries (event_id, event, body, status, next_attempt_at, order_key,"
            " created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
            (event_id, event, body, status, next_attempt_at, created_at),
        )
        seq = cursor.lastrowid
        assert seq is not None
        await self._db.execute("UPDATE deliveries SET order_key = ? WHERE seq = ?", (seq, seq))
        return seq

    async def deliveries(
        self, *, status: str | None = None, due_by: float | None = None, limit: int = 1000
    ) -> list[Delivery]:
        """Deliveries in the order they are to be posted (due ones only with ``due_by``)."""
        sql = (
            "SELECT seq, event_id, event, body, status, attempts, next_attempt_at, last_error,"
            " created_at, delivered_at FROM deliveries WHERE 1 = 1"
        )
        args: list[Any] = []
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if due_by is not None:
            sql += " AND next_attempt_at <= ?"
            args.append(due_by)
        sql += " ORDER BY next_attempt_at, order_key LIMIT ?"
        rows = await self._rows(sql, *args, limit)
        return [Delivery(*row) for row in rows]

    async def release_held(self, now: float) -> int:
        """Make every held delivery due now, the newest first (the ``reorder`` switch)."""
        cursor = await self._db.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, order_key = -seq"
            " WHERE status = 'held'",
            (now,),
        )
        return cursor.rowcount

    async def record_attempt(
        self,
        seq: int,
        *,
        status: str,
        next_attempt_at: float,
        error: str | None,
        delivered_at: float | None,
    ) -> None:
        """What one attempt at a delivery came to."""
        await self._db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " last_error = ?, delivered_at = ? WHERE seq = ?",
            (status, next_attempt_at, error, delivered_at, seq),
        )


class Store:
    """The state file, opened once for the life of the sandbox process."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (or create) the state file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode = WAL")
        await db.executescript(SCHEMA)
        return cls(db)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db)
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()
