"""The limits of a wallet's KYC tier (RBI Master Direction on PPIs, 2021; docs/limits.md).

A minimum-detail wallet holds at most its balance cap, takes at most a month's and a
financial year's money added, and sends at most a month's amount to other people; a
full-KYC wallet has a higher cap, money added bounded by the cap alone, and its own
monthly cap on what it sends. Periods are calendar months and financial years (1 April
to 31 March) in India's time. Refunds and reversals (a payout that came back) are
credited whatever the cap, as the rules say.

A user may also set their own daily caps on the value and number of their payments
(transfers and withdrawals); and a minimum-detail wallet that has not upgraded to full
KYC within ``kyc_upgrade_months`` of its opening accepts no credit but refunds.

The monthly amount sent is a running counter in the wallet's own row (``p2p_month``,
``p2p_sent_paise``), as is the day's (``pay_day``, ``day_paid_paise``,
``day_payments``), advanced in the one ``UPDATE`` a batch of transfers writes anyway,
so checking them costs no statement (docs/performance.md); the caps and the opening
date are columns of that locked row too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tijori.common.events import Allowance, KycTier
from tijori.common.periods import Today, zone
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import Wallet

Tier = KycTier
TIERS: tuple[Tier, ...] = ("MINIMUM", "FULL")


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


def period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of ``now``'s calendar month and of its financial year (1 April), in
    ``timezone``: the periods the regulator's limits are counted over."""
    local = now.astimezone(zone(timezone))
    month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year = month.year if month.month >= 4 else month.year - 1
    return month, month.replace(year=year, month=4)


def sent_in(wallet: Wallet, month: str) -> int:
    """Paise ``wallet`` has sent to people in ``month``: its counter, if it is of that
    month (a counter of an earlier month counts nothing now)."""
    return wallet.p2p_sent_paise if wallet.p2p_month == month else 0


def paid_on(wallet: Wallet, day: str) -> tuple[int, int]:
    """Paise and payments of ``wallet``'s own on ``day``: its counters, if they are of
    that day (an earlier day's count nothing now)."""
    if wallet.pay_day != day:
        return 0, 0
    return wallet.day_paid_paise, wallet.day_payments


def tier_of(wallet: Wallet) -> Tier:
    """The KYC tier whose limits ``wallet`` has (anything but FULL is MINIMUM)."""
    return "FULL" if wallet.kyc_tier == "FULL" else "MINIMUM"


def monthly_p2p_by_tier(settings: WalletsSettings) -> dict[Tier, int]:
    """Each tier's monthly limit on money sent to people, in paise: what
    ``wallet.tier_limits`` announces."""
    return {tier: limits_of(settings, tier).monthly_p2p for tier in TIERS}


def allowance_of(wallet: Wallet, settings: WalletsSettings) -> Allowance:
    """What ``wallet``'s sender-side limits allow, from its locked row (no statement): the
    tier and its monthly limit and the month's counter, the user's own caps and the
    day's counters, and whether it is frozen, as the events that carry the wallet's
    version tell transactions."""
    return Allowance(
        tier=tier_of(wallet),
        frozen=wallet.status == "FROZEN",
        monthly_p2p_paise=limits_of(settings, wallet.kyc_tier).monthly_p2p,
        p2p_month=wallet.p2p_month,
        p2p_sent_paise=wallet.p2p_sent_paise,
        daily_amount_cap_paise=wallet.daily_amount_cap_paise,
        daily_count_cap=wallet.daily_count_cap,
        pay_day=wallet.pay_day,
        day_paid_paise=wallet.day_paid_paise,
        day_payments=wallet.day_payments,
    )


def own_limit_passed(wallet: Wallet, paise: int, *, day: str) -> str | None:
    """The user's own daily cap one more payment of ``paise`` would pass, if any: the
    value (``daily_amount``), then the number (``daily_count``). No cap, no limit."""
    paid, payments = paid_on(wallet, day)
    if wallet.daily_amount_cap_paise is not None and paid + paise > wallet.daily_amount_cap_paise:
        return "daily_amount"
    if wallet.daily_count_cap is not None and payments + 1 > wallet.daily_count_cap:
        return "daily_count"
    return None


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` ``months`` calendar months later, on the same day or the month's last."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def upgrade_deadline(wallet: Wallet, settings: WalletsSettings) -> datetime | None:
    """When a minimum-detail wallet stops accepting credit unless upgraded to full KYC:
    ``kyc_upgrade_months`` after its opening, in India's calendar; None for a full-KYC
    wallet or a system account."""
    if wallet.kyc_tier == "FULL" or wallet.kind != "USER" or wallet.created_at is None:
        return None
    opened = wallet.created_at.astimezone(zone(settings.limits_timezone))
    return _add_months(opened, settings.kyc_upgrade_months)


def past_upgrade_deadline(wallet: Wallet, settings: WalletsSettings, now: datetime) -> bool:
    """Whether ``wallet`` is a minimum-detail wallet past its upgrade deadline: it then
    takes no credit but refunds and reversals (``kyc_upgrade_deadline``)."""
    deadline = upgrade_deadline(wallet, settings)
    return deadline is not None and now >= deadline


def transfer_limit_passed(
    sender: Wallet, receiver: Wallet, paise: int, *, settings: WalletsSettings, today: Today
) -> str | None:
    """The limit a transfer of ``paise`` would pass, if any: the sender's own daily caps
    (``daily_amount``, ``daily_count``), its monthly amount sent (``monthly_p2p``), then
    the receiver's upgrade deadline (``kyc_upgrade_deadline``) and its balance cap
    (``receiver_balance_cap``)."""
    if (own := own_limit_passed(sender, paise, day=today.day)) is not None:
        return own
    if sent_in(sender, today.month) + paise > limits_of(settings, sender.kyc_tier).monthly_p2p:
        return "monthly_p2p"
    if past_upgrade_deadline(receiver, settings, today.now):
        return "kyc_upgrade_deadline"
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
    now: datetime,
) -> str | None:
    """The limit adding ``paise`` to ``wallet`` would pass, if any: its upgrade deadline
    (a minimum-detail wallet's), its balance cap, then the month's and the financial
    year's money added (a minimum-detail wallet's)."""
    if past_upgrade_deadline(wallet, settings, now):
        return "kyc_upgrade_deadline"
    limits = limits_of(settings, wallet.kyc_tier)
    if wallet.balance_paise + paise > limits.balance_cap:
        return "balance_cap"
    if limits.monthly_load is not None and loaded_this_month + paise > limits.monthly_load:
        return "monthly_load"
    if limits.yearly_load is not None and loaded_this_year + paise > limits.yearly_load:
        return "yearly_load"
    return None
