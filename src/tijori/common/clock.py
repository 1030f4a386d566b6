"""The clock: every timestamp Tijori stores or sends is timezone-aware UTC; and the one way
a background loop waits to be woken."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed; say whether it was set.

    With ``asyncio.timeout``, not ``asyncio.wait_for``: on Python 3.11 a ``wait_for`` whose
    timeout fires as its task is cancelled can swallow the cancellation, and a loop that
    waits this way then never stops (it hung the test suite once in many runs).
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
