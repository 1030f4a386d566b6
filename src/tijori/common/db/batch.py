"""Statements a unit of work writes a batch's changes with: one per table and shape."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, Update, bindparam, case

from tijori.common.db.types import primary_key


def slots(count: int) -> int:
    """The WHEN branches a statement for ``count`` rows has: the next power of two, so
    that a table has a handful of statements, not one per batch size (each would take a
    place in the engine's cache of compiled statements)."""
    return 1 << max(count - 1, 0).bit_length()


@functools.lru_cache(maxsize=256)
def update_statement(table: Table, names: tuple[str, ...], size: int) -> Update:
    """``UPDATE table SET name = CASE key WHEN :key__0 THEN :name__0 ... END, ... WHERE
    key IN (:keys__)`` with ``size`` branches per column, built (and so compiled) once
    per table, columns and size. Branches beyond the rows are NULL and match nothing."""
    key = primary_key(table)
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
                        for i in range(size)
                    },
                    value=key,
                )
                for name in names
            }
        )
    )


def update_parameters(
    key: str, names: tuple[str, ...], rows: Sequence[dict[str, Any]], size: int
) -> dict[str, Any]:
    """The parameters of :func:`update_statement` for ``rows`` (each names ``key`` and
    every one of ``names``)."""
    parameters: dict[str, Any] = {"keys__": [row[key] for row in rows]}
    for i in range(size):
        row = rows[i] if i < len(rows) else None
        parameters[f"key__{i}"] = row[key] if row is not None else None
        for name in names:
            parameters[f"{name}__{i}"] = row[name] if row is not None else None
    return parameters
