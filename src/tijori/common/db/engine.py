"""Engines for MySQL/MariaDB (asyncmy) and SQLite (aiosqlite), and their connection pools."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int | None = None, autocommit: bool = False
) -> AsyncEngine:
    """Create the engine for one service's database, tuned for its dialect.

    ``max_overflow``: connections opened past ``pool_size`` when all are checked out,
    each closed again when it is given back (by default as many as ``pool_size``).
    ``autocommit``: for single reads that need no transaction (on MySQL/MariaDB each
    statement commits itself, and giving the connection back sends no ``ROLLBACK``: a
    round trip less per read). SQLite keeps its transactions either way."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # let SQLAlchemy, not the driver, begin transactions (see _sqlite_begin)
            connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # take the write lock up front: a deferred transaction that reads and then
            # writes fails at once with "database is locked" when another writer holds it
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_recycle=1800,
        # READ COMMITTED takes no gap locks: fewer deadlocks for row-locking transfers
        isolation_level="AUTOCOMMIT" if autocommit else "READ COMMITTED",
        skip_autocommit_rollback=autocommit,
        # replaced by _roll_back_open_transactions: ROLLBACK only where one is open
        pool_reset_on_return=None,
    )
    _ping_idle_connections(engine)
    _roll_back_open_transactions(engine)
    return engine


READ_POOL_SIZE = 16
"""Connections of a hot route's read pool (:func:`create_read_engine`)."""


def create_read_engine(url: str) -> AsyncEngine:
    """The engine of a hot route's single reads (``ServiceRuntime.driver_read``): each
    statement commits itself, on a pool of :data:`READ_POOL_SIZE` connections with no
    overflow. Past them a read waits for one to come back rather than opening a
    connection that is closed again as soon as it is given back: with 4 and 4 of
    overflow, users opened a connection for one payment in ten under the closed loop,
    each a handshake for it and for MariaDB (docs/performance.md, eighteenth round)."""
    return create_engine(url, pool_size=READ_POOL_SIZE, max_overflow=0, autocommit=True)


def _roll_back_open_transactions(engine: AsyncEngine) -> None:
    """Roll back a connection given back to the pool only if the server says a
    transaction is open on it.

    SQLAlchemy's pool sends ``ROLLBACK`` on every check-in, also right after a commit: a
    round trip for nothing (docs/performance.md). MySQL and MariaDB report in every OK
    and EOF packet whether a transaction is open (``SERVER_STATUS_IN_TRANS``), and
    asyncmy keeps the last report. A report is only ever stale in the safe direction: an
    error packet carries none, so a transaction the server rolled back itself (a
    deadlock) still looks open and gets its ``ROLLBACK``.
    """

    @event.listens_for(engine.sync_engine, "reset")
    def _reset(dbapi_connection: Any, _: Any, reset_state: Any) -> None:
        if not reset_state.asyncio_safe:
            return  # being discarded outside the event loop: the server rolls back
        if dbapi_connection.driver_connection.get_transaction_status():
            dbapi_connection.rollback()


# A pooled connection that has been idle this long is pinged before it is used again.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use if it has been idle, so a restarted database
    (or a connection the server dropped) costs no request an error.

    ``pool_pre_ping`` pings on every checkout, a round trip each time (docs/performance.md).
    A connection used within the last second cannot have outlived a database restart
    that has since finished; if it meets a broken link anyway, SQLAlchemy invalidates
    the pool and the operation is retried as any transient error is.
    """

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _idle_from_now(_: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # just connected, or busy a moment ago
        try:
            dbapi_connection.ping(False)
        except Exception as error:
            # the others are likely as dead: SQLAlchemy discards them all and reconnects
            raise exc.InvalidatePoolError() from error


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
