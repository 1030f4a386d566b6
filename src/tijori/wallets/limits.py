"""The limits of a wallet's KYC tier (RBI Master Direction on PPIs, 2021; docs/limits.md).

A minimum-detail wallet holds at most its balance cap, takes at most a month's and a
financial year's money added, and sends at most a month's amount to other people; a
full-KYC wallet has a higher cap, money added bounded by the cap alone, and its own
monthly cap on what it sends. Periods are calendar months and financial years (1 April
to 31 March) in India's time. Refunds and reversals (a payout that came back) are
credited whatever the cap, as the rules say.

The monthly amount sent is a running counter in the wallet's own row (``p2p_month``,
``p2p_sent_paise``), advanced in the one ``UPDATE`` a batch of transfers writes anyway,
so checking it costs no statement (docs/performance.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import Wallet

Tier = Literal["MINIMUM", "FULL"]


@dataclass(frozen=True)
class TierLimits:
    """A tier's limits in paise; None where the tier has none of that kind."""

    balance_cap: int
    monthly_load: int | None
    yearly_load: int | None
    monthly_p2p: int


def limits_of(settings: WalletsSettings, tier: str) -> TierLimits:
    """The limits of ``tier`` (anything but FULL is a minimum-detail wallet)."""
    if tier == "FULL":
        return TierLimits(
            balance_cap=settings.full_balance_cap,
            monthly_load=None,
            yearly_load=None,
            monthly_p2p=settings.full_p2p_monthly_limit,
        )
    return TierLimits(
        balance_cap=settings.balance_cap,
        monthly_load=settings.monthly_load_limit,
        yearly_load=settings.yearly_load_limit,
        monthly_p2p=settings.p2p_monthly_limit,
    )


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of ``now``'s calendar month and of its financial year (1 April), in
    ``timezone``: the periods the regulator's limits are counted over."""
    local = now.astimezone(_zone(timezone))
    month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year = month.year if month.month >= 4 else month.year - 1
    return month, month.replace(year=year, month=4)


def month_key(now: datetime, timezone: str) -> str:
    """``now``'s calendar month in ``timezone``, as ``p2p_month`` keeps it: ``2026-12``."""
    local = now.astimezone(_zone(timezone))
    return f"{local.year:04d}-{local.month:02d}"


def sent_in(wallet: Wallet, month: str) -> int:
    """Paise ``wallet`` has sent to people in ``month``: its counter, if it is of that
    month (a counter of an earlier month counts nothing now)."""
    return wallet.p2p_sent_paise if wallet.p2p_month == month else 0


def transfer_limit_passed(
    sender: Wallet, receiver: Wallet, paise: int, *, settings: WalletsSettings, month: str
) -> str | None:
    """The limit a transfer of ``paise`` would pass, if any: the sender's monthly amount
    sent (``monthly_p2p``), then the receiver's balance cap (``receiver_balance_cap``)."""
    if sent_in(sender, month) + paise > limits_of(settings, sender.kyc_tier).monthly_p2p:
        return "monthly_p2p"
    if receiver.balance_paise + paise > limits_of(settings, receiver.kyc_tier).balance_cap:
        return "receiver_balance_cap"
    return None


def load_limit_passed(
    wallet: Wallet,
    paise: int,
    *,
    settings: WalletsSettings,
    loaded_this_month: int,
    loaded_this_year: int,
) -> str | None:
    """The limit adding ``paise`` to ``wallet`` would pass, if any: its balance cap,
    then the month's and the financial year's money added (a minimum-detail wallet's)."""
    limits = limits_of(settings, wallet.kyc_tier)
    if wallet.balance_paise + paise > limits.balance_cap:
        return "balance_cap"
    if limits.monthly_load is not None and loaded_this_month + paise > limits.monthly_load:
        return "monthly_load"
    if limits.yearly_load is not None and loaded_this_year + paise > limits.yearly_load:
        return "yearly_load"
    return None
