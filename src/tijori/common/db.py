"""Async SQLAlchemy: engines for MySQL/MariaDB (asyncmy) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    case,
    event,
    exc,
    inspect,
    text,
)
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
T = TypeVar("T")

# BIGINT on MySQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements)
BigId = BigInteger().with_variant(Integer(), "sqlite")


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names every service's metadata uses, so errors and migrations can name them."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored naive in UTC with microseconds and always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create the engine for one service's database, tuned for its dialect."""
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
        max_overflow=pool_size,
        pool_recycle=1800,
        # READ COMMITTED takes no gap locks: fewer deadlocks for row-locking transfers
        isolation_level="READ COMMITTED",
        # replaced by _roll_back_open_transactions: ROLLBACK only where one is open
        pool_reset_on_return=None,
    )
    _ping_idle_connections(engine)
    _roll_back_open_transactions(engine)
    return engine


def _roll_back_open_transactions(engine: AsyncEngine) -> None:
    """Roll back a connection given back to the pool only if the server says a
    transaction is open on it.

    SQLAlchemy's pool sends ``ROLLBACK`` on every check-in, also right after a commit
    (and after the ``ROLLBACK`` a session closing mid-transaction has already sent): a
    round trip for nothing, several times per transfer (a session that runs one
    statement and commits: 395-481 µs of CPU without it, 514-651 with it). MySQL and
    MariaDB report in every OK and EOF packet whether a transaction is open
    (``SERVER_STATUS_IN_TRANS``, set by the first statement that touches a
    transactional table, cleared by ``COMMIT`` and ``ROLLBACK``), and asyncmy keeps the
    last report. A report is only ever stale in the safe direction: an error packet
    carries none, so a transaction the server rolled back itself (a deadlock) still
    looks open and gets its ``ROLLBACK``.
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

    ``pool_pre_ping`` pings on every checkout: a round trip that was 4-7% of a busy
    service's CPU. A connection used within the last second cannot have outlived a
    database restart that has since finished (one takes longer); if it meets a broken
    link anyway, SQLAlchemy invalidates the pool and the operation is retried as any
    transient error is.
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit.

    Each sessionmaker gets its own sync ``Session`` class so that session events (the
    outbox relay's wake-up on commit) can be listened to for it alone.
    """
    session_class = type("ServiceSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)


# MySQL/MariaDB: 1205 lock wait timeout, 1213 deadlock, 2006/2013 lost connection
_TRANSIENT_MYSQL_CODES = frozenset({1205, 1213, 2006, 2013})


def is_transient(error: BaseException) -> bool:
    """Whether a database error is worth retrying: deadlock, lock timeout, busy, lost link."""
    if isinstance(error, DBAPIError):
        orig = error.orig
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int) and args[0] in _TRANSIENT_MYSQL_CODES:
            return True
        if "database is locked" in str(orig):
            return True
        return isinstance(error, OperationalError) and error.connection_invalidated
    return False


async def retry_transient(
    operation: Callable[[], Awaitable[T]], *, attempts: int = 8, what: str = "transaction"
) -> T:
    """Run ``operation`` (a whole database transaction) again on deadlock or lock timeout."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.warning("%s hit a transient database error (try %d): %s", what, attempt, error.orig)
            await asyncio.sleep(min(0.02 * 2**attempt, 1.0))
    raise AssertionError("unreachable")


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Keyed(Generic[RowT]):
    """A statement for the rows whose ``column`` is one of ``:keys``, in ``column``
    order (:func:`keyed`), and that column."""

    statement: Select[RowT]
    column: InstrumentedAttribute[Any]


def keyed(statement: Select[RowT], column: InstrumentedAttribute[Any]) -> Keyed[RowT]:
    """``statement`` for the rows whose ``column`` is one of ``:keys``, in ``column``
    order: for :func:`read_once`. Build it once (at import): a statement built anew on
    every call cost more CPU to build than to run (about 200 µs a call, measured)."""
    return Keyed(
        statement.where(column.in_(bindparam("keys", expanding=True))).order_by(column), column
    )


async def read_once(
    session: AsyncSession,
    remembered: dict[str, RowT | None],
    query: Keyed[RowT],
    keys: Iterable[str],
) -> dict[str, RowT]:
    """The rows ``query`` finds for ``keys``, by key.

    Each key is read at most once per ``remembered`` (a dict kept for one database
    transaction, in ``session.info``), those not found remembered as None: a batch reads
    (or locks) everything it needs in one statement, and each of its items then finds
    its rows without another. Rows are read in key order, so a ``FOR UPDATE`` statement
    takes its locks in one order everywhere.
    """
    wanted = set(keys)
    missing = sorted(wanted - remembered.keys())
    if missing:
        found = await session.scalars(query.statement, {"keys": missing})
        by_key = {getattr(row, query.column.key): row for row in found}
        for key in missing:
            remembered[key] = by_key.get(key)
    return {key: row for key in wanted if (row := remembered[key]) is not None}


_STAGED_ROWS = "tijori.staged_rows"
_STAGED_UPDATES = "tijori.staged_updates"


def table_of(model: type[Any]) -> Table:
    """The table a mapped class is stored in."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def row_of(instance: Any, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The column values of a mapped object, as a row to insert (but ``leave_out``)."""
    return {
        column.key: getattr(instance, column.key)
        for column in table_of(type(instance)).columns
        if column.key not in leave_out
    }


def values_of(instance: Any, *keys: str) -> dict[str, Any]:
    """Some column values of a mapped object, with its primary key: a row to update."""
    primary_key = _primary_key(table_of(type(instance)))
    return {key: getattr(instance, key) for key in (primary_key.key, *keys)}


def hold(session: AsyncSession | Session, instances: Iterable[Any]) -> None:
    """Take loaded objects out of ``session``'s unit of work: their changes are staged
    with :func:`update_at_commit` instead of flushed one by one. Objects not inserted
    yet stay with the session, which inserts them as they are at the flush."""
    for instance in instances:
        if inspect(instance).persistent:
            session.expunge(instance)


def _primary_key(table: Table) -> Column[Any]:
    """The table's one primary key column (staged updates need a single-column key)."""
    (column,) = table.primary_key.columns
    return column


async def insert_rows(
    session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]]
) -> None:
    """Write new rows of ``model``'s table now, in one statement; the session does not
    track them. A unique key already taken raises ``IntegrityError`` here."""
    await session.execute(table_of(model).insert(), rows)


def insert_at_commit(
    session: AsyncSession | Session, model: type[Any], *rows: dict[str, Any]
) -> None:
    """Stage new rows of ``model``'s table, written when ``session``'s transaction commits.

    For rows that nothing reads back before the commit (ledger entries, outbox events,
    e-mails): at commit, after the ORM's own changes are flushed, each table's staged
    rows go in one multi-row ``INSERT`` in the order they were staged, without the
    unit of work's bookkeeping per object (it cost twice as much CPU per row). An error
    there (a unique key, say) fails the commit, which rolls everything back; a rollback
    forgets what was staged. Rows of one table name the same columns.
    """
    staged: dict[Table, list[dict[str, Any]]] = session.info.setdefault(_STAGED_ROWS, {})
    staged.setdefault(table_of(model), []).extend(rows)


def update_at_commit(
    session: AsyncSession | Session, model: type[Any], *rows: dict[str, Any]
) -> None:
    """Stage new values of existing rows of ``model``'s table, written when ``session``'s
    transaction commits.

    Each row names its primary key and the columns to set (:func:`values_of`); a row
    staged again takes its latest values. For rows a batch changes many of (balances,
    statuses), held by objects the session does not track: at commit, after the ORM's own
    changes and before the staged inserts, the rows that set the same columns are written
    by one ``UPDATE ... SET column = CASE key WHEN ... END WHERE key IN (...)`` instead of
    one statement and round trip each (the unit of work's way: four times the CPU of
    client and database per row, measured). A staged row that is not in the table fails
    the commit (``StaleDataError``, as the ORM's own update would); a rollback forgets
    what was staged.
    """
    staged: dict[Table, dict[Any, dict[str, Any]]] = session.info.setdefault(_STAGED_UPDATES, {})
    by_key = staged.setdefault(table_of(model), {})
    key = _primary_key(table_of(model)).key
    for row in rows:
        by_key.setdefault(row[key], {}).update(row)


def _slots(count: int) -> int:
    """The WHEN branches a statement for ``count`` rows has: the next power of two, so
    that a table has a handful of statements, not one per batch size (each would take a
    place in the engine's cache of compiled statements)."""
    return 1 << max(count - 1, 0).bit_length()


@functools.lru_cache(maxsize=256)
def _update_statement(table: Table, names: tuple[str, ...], slots: int) -> Update:
    """``UPDATE table SET name = CASE key WHEN :key__0 THEN :name__0 ... END, ... WHERE
    key IN (:keys__)`` with ``slots`` branches per column: built once per table, columns
    and size, so it is compiled once too (built anew with literal values it cost as much
    CPU as the statements it replaces, measured). Branches beyond the rows are NULL and
    match nothing."""
    key = _primary_key(table)
    return (
        table.update()
        .where(key.in_(bindparam("keys__", expanding=True)))
        .values(
            {
                table.c[name]: case(
                    {
                        bindparam(f"key__{i}", type_=key.type): bindparam(
                            f"{name}__{i}", type_=table.c[name].type
                        )
                        for i in range(slots)
                    },
                    value=key,
                )
                for name in names
            }
        )
    )


def _update_parameters(
    key: str, names: tuple[str, ...], rows: Sequence[dict[str, Any]], slots: int
) -> dict[str, Any]:
    parameters: dict[str, Any] = {"keys__": [row[key] for row in rows]}
    for i in range(slots):
        row = rows[i] if i < len(rows) else None
        parameters[f"key__{i}"] = row[key] if row is not None else None
        for name in names:
            parameters[f"{name}__{i}"] = row[name] if row is not None else None
    return parameters


@event.listens_for(Session, "before_commit")
def _write_staged(session: Session) -> None:
    updates: dict[Table, dict[Any, dict[str, Any]]] | None = session.info.pop(_STAGED_UPDATES, None)
    inserts: dict[Table, list[dict[str, Any]]] | None = session.info.pop(_STAGED_ROWS, None)
    if not updates and not inserts:
        return
    session.flush()  # the rows they refer to go in first
    for table, by_key in (updates or {}).items():
        key = _primary_key(table)
        alike: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in by_key.values():
            alike.setdefault(tuple(sorted(set(row) - {key.key})), []).append(row)
        for names, rows in alike.items():
            slots = _slots(len(rows))
            result = session.execute(
                _update_statement(table, names, slots),
                _update_parameters(key.key, names, rows, slots),
            )
            # rows matched, not changed: the MySQL dialects connect with FOUND_ROWS
            found = cast("CursorResult[Any]", result).rowcount
            if found != len(rows):
                raise StaleDataError(
                    f"{table.name}: {len(rows)} rows staged for update, {found} found"
                )
    for table, new_rows in (inserts or {}).items():
        session.execute(table.insert(), new_rows)


@event.listens_for(Session, "after_transaction_end")
def _forget_staged(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        session.info.pop(_STAGED_ROWS, None)
        session.info.pop(_STAGED_UPDATES, None)
