"""The unit of work: one database transaction, and everything that belongs to it.

Wherever a database transaction begins (a request, a batch of accepted transfers, a
batch of consumed events, a relay or mailer round, the re-drive loop) a
:class:`UnitOfWork` is opened. It owns the session, what this transaction has read and
locked (so a batch reads everything in one statement and its items find their rows
without another), the rows staged for the commit, and the hooks run after it. Every
repository takes the unit of work, never a bare session, and nothing below the scope
that opened it commits. See docs/architecture.md, "How a change is written".

Rows a batch changes many of (wallets, transactions, known accounts) are *held*: loaded
locked and taken out of the ORM's own unit of work, then changed only through
:meth:`UnitOfWork.update`, which stages the new values and writes a batch's rows of a
table in one statement at commit (docs/performance.md). Their models are
:class:`StagedRow`; any other change to one of them raises :class:`UnstagedChangeError`
instead of being lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, inspect
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from tijori.common.clock import utcnow
from tijori.common.db.batch import slots, update_parameters, update_statement
from tijori.common.db.types import primary_key, table_of

RowT = TypeVar("RowT")


class StagedRow:
    """Marks a model whose rows change only through :meth:`UnitOfWork.update`.

    Its ``updated_at`` (if it has one) is set there too, so it has no ``onupdate``.
    """


class UnstagedChangeError(RuntimeError):
    """A change to a :class:`StagedRow` made outside :meth:`UnitOfWork.update`: it
    would be lost (a held row) or bypass the batch's write path (a tracked one)."""


class _GuardedSession(Session):
    """A session that refuses to flush a changed :class:`StagedRow` it tracks."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        for instance in self.dirty:
            if isinstance(instance, StagedRow) and inspect(instance).modified:
                raise UnstagedChangeError(
                    f"{type(instance).__name__} {inspect(instance).identity} was changed "
                    "directly; change it with its repository's method (UnitOfWork.update)"
                )
        super().flush(objects)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for units of work: loaded objects stay usable after commit, and a
    :class:`StagedRow` changed behind the unit of work's back is refused."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_GuardedSession)


@dataclass(frozen=True)
class Keyed(Generic[RowT]):
    """A statement for the rows whose ``column`` is one of ``:keys``, in ``column``
    order (:func:`keyed`), and that column."""

    statement: Select[RowT]
    column: InstrumentedAttribute[Any]


def keyed(statement: Select[RowT], column: InstrumentedAttribute[Any]) -> Keyed[RowT]:
    """``statement`` for the rows whose ``column`` is one of ``:keys``, in ``column``
    order, for :meth:`UnitOfWork.read_once`. Build it once, at import: building a
    statement costs more than running it (docs/performance.md)."""
    return Keyed(
        statement.where(column.in_(bindparam("keys", expanding=True))).order_by(column), column
    )


class UnitOfWork:
    """One database transaction: its session, reads, staged rows and after-commit hooks.

    ``async with units() as uow: ...; await uow.commit()``. Leaving the block without
    committing rolls back. After :meth:`commit` or :meth:`rollback` everything the
    transaction remembered or staged is forgotten, and the next statement begins a new
    transaction with fresh reads.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        wake_relay: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.wake_relay: Callable[[], None] = wake_relay or _nothing
        """Tells this service's outbox relay that events were committed."""
        self._clear()

    def _clear(self) -> None:
        self._remembered: dict[str, dict[Any, Any]] = {}
        self._held: dict[int, Any] = {}
        self._inserts: dict[Table, list[dict[str, Any]]] = {}
        self._updates: dict[Table, dict[Any, dict[str, Any]]] = {}
        self._hooks: dict[object, Callable[[], None]] = {}

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        self._clear()
        # closing gives the connection back, which rolls back whatever is open, and
        # leaves loaded objects readable (a rollback would expire them)
        await session.close()

    @property
    def session(self) -> AsyncSession:
        """The session of this unit of work, for its repositories' queries."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use 'async with'")
        return self._session

    # --- what this transaction has read --------------------------------------------

    def remembered(self, name: str) -> dict[Any, Any]:
        """A dict that lives as long as this database transaction, for what it has read
        or locked under ``name`` (a repository's cache)."""
        return self._remembered.setdefault(name, {})

    async def read_once(
        self, name: str, query: Keyed[RowT], keys: Iterable[Any]
    ) -> dict[Any, RowT]:
        """The rows ``query`` finds for ``keys``, by key; each key is read at most once per
        transaction (kept under ``name``, those not found as None). Rows are read in key
        order, so a ``FOR UPDATE`` query takes its locks in one order everywhere."""
        remembered = self.remembered(name)
        wanted = set(keys)
        missing = sorted(wanted - remembered.keys())
        if missing:
            found = await self.session.scalars(query.statement, {"keys": missing})
            by_key = {getattr(row, query.column.key): row for row in found}
            for key in missing:
                remembered[key] = by_key.get(key)
        return {key: row for key in wanted if (row := remembered[key]) is not None}

    # --- held rows and their one write path ----------------------------------------

    def hold(self, instances: Iterable[Any]) -> None:
        """Take loaded rows out of the ORM's unit of work: from now on they change only
        through :meth:`update`. Rows not inserted yet stay with the session, which
        inserts them as they are."""
        for instance in instances:
            if inspect(instance).persistent:
                self.session.expunge(instance)
                self._held[id(instance)] = instance

    def update(self, instance: Any, **values: Any) -> None:
        """Change a held (or new) row: set ``values`` (and ``updated_at``, where the
        table has it) on ``instance`` and stage them, written at commit with the
        transaction's other rows of its table in one statement. A row staged again takes
        its latest values."""
        table = table_of(type(instance))
        if "updated_at" in table.c:
            values.setdefault("updated_at", utcnow())
        state = inspect(instance)
        if state.pending:  # not inserted yet: inserted with these values
            for name, value in values.items():
                setattr(instance, name, value)
            return
        if id(instance) not in self._held:
            raise UnstagedChangeError(
                f"{table.name} {state.identity}: only rows this transaction holds are updated"
            )
        for name, value in values.items():
            set_committed_value(instance, name, value)
        key = primary_key(table).key
        identity = getattr(instance, key)
        staged = self._updates.setdefault(table, {}).setdefault(identity, {key: identity})
        staged.update(values)

    def _refuse_lost_changes(self) -> None:
        for instance in self._held.values():
            changed = inspect(instance).committed_state
            if changed:
                raise UnstagedChangeError(
                    f"{type(instance).__name__} {inspect(instance).identity}: "
                    f"{', '.join(sorted(changed))} changed outside UnitOfWork.update "
                    "would be lost; change it with its repository's method"
                )

    # --- new rows ------------------------------------------------------------------

    def insert_at_commit(self, model: type[Any], *rows: dict[str, Any]) -> None:
        """Stage new rows of ``model``'s table, written at commit in one multi-row
        ``INSERT`` per table, in the order staged, after the ORM's own changes and the
        staged updates. For rows nothing reads back before the commit (ledger entries,
        outbox events, e-mails); rows of one table name the same columns. An error there
        (a unique key, say) fails the commit."""
        self._inserts.setdefault(table_of(model), []).extend(rows)

    async def insert_now(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """Write new rows of ``model``'s table now, in one statement, untracked: a unique
        key already taken raises ``IntegrityError`` here."""
        await self.session.execute(table_of(model).insert(), rows)

    # --- the end of the transaction ------------------------------------------------

    def after_commit(self, callback: Callable[[], None], *, once: bool = False) -> None:
        """Run ``callback`` after this transaction commits (never if it rolls back);
        with ``once``, however often it is asked for."""
        self._hooks[callback if once else object()] = callback

    async def commit(self) -> None:
        """Write what is staged, commit, forget this transaction's state and run its
        after-commit hooks."""
        self._refuse_lost_changes()
        session = self.session
        await session.flush()  # the ORM's own changes first: staged rows refer to them
        for table, by_key in self._updates.items():
            await _write_updates(session, table, by_key.values())
        for table, rows in self._inserts.items():
            await session.execute(table.insert(), rows)
        await session.commit()
        hooks = list(self._hooks.values())
        self._clear()
        for hook in hooks:
            hook()

    async def rollback(self) -> None:
        """Roll back and forget everything staged, remembered or hooked."""
        try:
            await self.session.rollback()
        finally:
            self._clear()


def _nothing() -> None:
    """No outbox relay to wake."""


async def _write_updates(
    session: AsyncSession, table: Table, rows: Iterable[dict[str, Any]]
) -> None:
    """Write staged updates of ``table``: one statement per set of columns. A staged row
    that is not in the table fails the commit, as the ORM's own update would."""
    key = primary_key(table).key
    alike: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        alike.setdefault(tuple(sorted(set(row) - {key})), []).append(row)
    for names, same in alike.items():
        size = slots(len(same))
        result = await session.execute(
            update_statement(table, names, size), update_parameters(key, names, same, size)
        )
        # rows matched, not changed: the MySQL dialects connect with FOUND_ROWS
        found = cast("CursorResult[Any]", result).rowcount
        if found != len(same):
            raise StaleDataError(f"{table.name}: {len(same)} rows staged for update, {found} found")


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Opens a new unit of work on a service's database."""
