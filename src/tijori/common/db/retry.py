"""Retrying a whole database transaction on the errors that are worth it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

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
