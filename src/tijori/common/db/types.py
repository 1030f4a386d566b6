"""Column types and names every service's tables share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table
from sqlalchemy.dialects.mysql import VARBINARY
from sqlalchemy.types import TypeDecorator

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


class ExactText(TypeDecorator[str]):
    """Text that equals only the same bytes. On MySQL and MariaDB it is stored as its
    UTF-8 bytes (VARBINARY): their text collations take ``Invoice-A`` for ``invoice-a``,
    ``é`` for ``e`` and ignore trailing spaces. SQLite compares text byte for byte."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "mysql":  # up to 4 bytes a character in UTF-8
            return dialect.type_descriptor(VARBINARY(4 * self.length))
        return dialect.type_descriptor(String(self.length))

    def process_bind_param(self, value: str | None, dialect: Any) -> Any:
        return value.encode() if dialect.name == "mysql" and value is not None else value

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return bytes(value).decode() if isinstance(value, bytes | bytearray) else value


def table_of(model: type[Any]) -> Table:
    """The table a mapped class is stored in."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def primary_key(table: Table) -> Column[Any]:
    """The table's one primary key column (staged updates need a single-column key)."""
    (column,) = table.primary_key.columns
    return column


def row_of(instance: Any, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The column values of a mapped object, as a row to insert (but ``leave_out``)."""
    return {
        column.key: getattr(instance, column.key)
        for column in table_of(type(instance)).columns
        if column.key not in leave_out
    }
