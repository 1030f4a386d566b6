"""The clock: every timestamp Tijori stores or sends is timezone-aware UTC; and the one way
a background loop waits to be woken, and stops when it was cancelled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop (``cancelling``) but
    is still running: something it awaited swallowed the cancellation (see
    :func:`woken`). A loop that does not wait on :func:`woken` calls this each round."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("cancelled while it ran (the cancellation was swallowed)")


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed; say whether it was set.

    Every background loop waits here between rounds, so this is also where a loop stops
    whose cancellation something swallowed: on Python 3.11 ``asyncio.wait_for`` (which
    aiosmtplib, among others, awaits a reply with) returns its result instead of raising
    when the reply arrives as the task is cancelled, and the mailer's loop then ran on
    after the test suite had stopped it. The task still counts the request (``cancelling``),
    so it is raised again here. The wait itself is an ``asyncio.timeout``, which has no
    such race.
    """
    stop_if_cancelled()
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
