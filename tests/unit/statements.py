"""What a unit of work sends to its database: the tests that count statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tijori.common.db import UnitOfWork


@contextmanager
def statements_sent(uow: UnitOfWork) -> Iterator[list[str]]:
    """Every SQL statement the engine of ``uow`` sends meanwhile, in order."""
    engine = uow.session.bind.sync_engine
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
