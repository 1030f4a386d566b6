"""The periods limits are counted over: calendar months and days in India's time.

Wallets counts what a wallet sent this month and paid today under these keys
(``p2p_month`` = ``2026-12``, ``pay_day`` = ``2026-12-31``); transactions' pre-check
compares the keys it learned from wallets with today's, so both must name a period
the same way (docs/limits.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

INDIA = "Asia/Kolkata"
"""The time zone limits are counted in, unless configured otherwise
(``TIJORI_LIMITS_TIMEZONE``)."""


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (looked up once)."""
    return ZoneInfo(name)


@dataclass(frozen=True)
class Today:
    """A moment, and its calendar month and day in India's time."""

    now: datetime
    month: str  # "2026-12", as p2p_month keeps it
    day: str  # "2026-12-31", as pay_day keeps it


def today(now: datetime, timezone: str) -> Today:
    """``now`` with its month and day in ``timezone``."""
    local = now.astimezone(zone(timezone))
    return Today(now=now, month=f"{local.year:04d}-{local.month:02d}", day=local.date().isoformat())


def day_key(now: datetime, timezone: str) -> str:
    """``now``'s calendar day in ``timezone``, as ``pay_day`` keeps it: ``2026-12-31``."""
    return now.astimezone(zone(timezone)).date().isoformat()


def month_key(now: datetime, timezone: str) -> str:
    """``now``'s calendar month in ``timezone``, as ``p2p_month`` keeps it: ``2026-12``."""
    local = now.astimezone(zone(timezone))
    return f"{local.year:04d}-{local.month:02d}"
