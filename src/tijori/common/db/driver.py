"""One read run on the bare database driver: for the hottest route's single statement.

Every payment reads one row before anything else (users' PIN check). Through the ORM
session that statement cost about 750 µs of CPU, through a Core connection about 360,
and sent on the driver connection SQLAlchemy's pool hands out, about 110-180
(docs/performance.md, fifteenth round). :class:`DriverRead` keeps what SQLAlchemy is
good at: the statement is written with it, compiled once for the dialect, taken from
and given back to the engine's pool (so its idle ping, reset and invalidation still
apply), and its values go through the column types' own result processors. Only the
execution is the driver's. SQLite (the embedded default) runs it through Core instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn


class DriverRead:
    """``statement`` compiled once for ``engine``, read with :meth:`first`."""

    def __init__(self, engine: AsyncEngine, statement: Select[*tuple[Any, ...]]) -> None:
        self.engine = engine
        self.statement = statement
        self.on_driver = engine.dialect.driver == "asyncmy"
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        processors = [
            column.type.result_processor(engine.dialect, None)
            for column in statement.selected_columns
        ]
        self.processors: Sequence[Callable[[Any], Any] | None] = processors
        self.driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    async def first(self, parameters: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row the statement reads with ``parameters``, or ``None``.

        A driver's error is raised as SQLAlchemy wraps it for Core (a lost connection as
        ``OperationalError``), once the connection is dropped from the pool."""
        if not self.on_driver:
            async with self.engine.connect() as core:
                found = (await core.execute(self.statement, dict(parameters))).first()
            return None if found is None else tuple(found)
        arguments = [parameters[name] for name in self.names]
        connection = await self.engine.raw_connection()
        driver = connection.driver_connection
        assert driver is not None  # a connection checked out of the pool is open
        try:
            async with driver.cursor() as cursor:
                await cursor.execute(self.sql, arguments)
                row = await cursor.fetchone()
        except self.driver_error as error:
            connection.invalidate(error)  # it may be broken: the pool connects anew
            raise DBAPIError.instance(self.sql, arguments, error, self.driver_error) from error
        finally:
            # giving it back may close it (an overflow connection): that awaits the driver
            await greenlet_spawn(connection.close)
        if row is None:
            return None
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, self.processors, strict=True)
        )
