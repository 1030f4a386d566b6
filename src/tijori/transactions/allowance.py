"""The pre-check of a sender's limits: refuse at once a transfer wallets would refuse.

Wallets enforces the limits, on the locked wallet row, and stays the authority; this
service keeps the last allowance wallets told it of each sender (transfer outcomes and
``wallet.limits_changed`` carry it with the wallet version, older news ignored) and
refuses at once a transfer from a wallet it shows frozen (423 ``wallet_frozen``, as a
withdrawal is), and, with 422 ``limit_exceeded``, the ``limit`` and what is ``left``, a
transfer that this allowance already shows to pass a sender-side limit, in wallets'
order: the user's own daily value cap, their daily count cap, then the month's limit on
money sent to people (the sender's tier's as ``wallet.tier_limits`` last announced it,
when one was). The sender's PENDING transfers count against what is left, as they do
against the balance. A counter of an earlier month or day (in India's time) counts
nothing; a sender whose allowance is not known yet is not checked (docs/limits.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tijori.common.db import UnitOfWork
from tijori.common.errors import UnprocessableError, WalletFrozenError
from tijori.common.events import Allowance, WalletLimitsChanged, WalletTierLimits
from tijori.common.money import format_paise, format_rupees
from tijori.common.periods import Today
from tijori.transactions.repository import TransactionRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LimitLeft:
    """A sender-side limit a transfer would pass, and what is left of it now: paise, or
    payments for ``daily_count``."""

    limit: str
    left: int


def limit_passed(
    allowance: Allowance | None,
    paise: int,
    *,
    pending_paise: int,
    pending_count: int,
    today: Today,
    tier_monthly_p2p_paise: int | None = None,
) -> LimitLeft | None:
    """The limit one more transfer of ``paise`` passes, by ``allowance`` and the
    sender's ``pending_paise`` in ``pending_count`` transfers not yet in it; None when
    it passes none, or nothing is known. The month's limit is the one wallets announced
    for the allowance's tier (``tier_monthly_p2p_paise``), if any: newer than the one
    the allowance was told with. A limit may be reached, not passed."""
    if allowance is None:
        return None
    paid, payments = pending_paise, pending_count
    if allowance.pay_day == today.day:
        paid += allowance.day_paid_paise
        payments += allowance.day_payments
    cap = allowance.daily_amount_cap_paise
    if cap is not None and paid + paise > cap:
        return LimitLeft("daily_amount", max(cap - paid, 0))
    count = allowance.daily_count_cap
    if count is not None and payments + 1 > count:
        return LimitLeft("daily_count", max(count - payments, 0))
    sent = pending_paise
    if allowance.p2p_month == today.month:
        sent += allowance.p2p_sent_paise
    monthly = allowance.monthly_p2p_paise
    if tier_monthly_p2p_paise is not None:
        monthly = tier_monthly_p2p_paise
    if sent + paise > monthly:
        return LimitLeft("monthly_p2p", max(monthly - sent, 0))
    return None


def is_frozen(allowance: Allowance | None) -> bool:
    """Whether the sender's wallet is frozen, by what wallets last told (it pays
    nothing until it is unfrozen); nothing known is not frozen."""
    return allowance is not None and allowance.frozen


def frozen_refusal() -> WalletFrozenError:
    """The 423 ``wallet_frozen`` of a transfer from a frozen wallet, as a withdrawal's."""
    return WalletFrozenError("your wallet is frozen: it pays no one until it is unfrozen")


# what each limit is, in the words of a refusal
_WHAT = {
    "daily_amount": "your daily limit on the value of your payments",
    "daily_count": "your daily limit on the number of your payments",
    "monthly_p2p": "this month's limit on money sent to people",
}


def refusal(passed: LimitLeft) -> UnprocessableError:
    """The 422 ``limit_exceeded`` of a transfer over ``passed``: ``limit`` names it and
    ``left`` says what is left, rupees as a string (``"12.50"``) or, for
    ``daily_count``, a number of payments."""
    what = _WHAT[passed.limit]
    if passed.limit == "daily_count":
        detail = f"no payment is left today under {what}"
        left: str | int = passed.left
    else:
        detail = f"{format_rupees(passed.left)} is left of {what}: too little for this transfer"
        left = format_paise(passed.left)
    return UnprocessableError(detail, code="limit_exceeded", limit=passed.limit, left=left)


async def learn_limits(uow: UnitOfWork, *, changed: WalletLimitsChanged) -> None:
    """Take the allowance of ``wallet.limits_changed`` as the account's, if it is newer
    than the one known: a tier, a cap or a hold changed in wallets, and what was
    refused here may fit now."""
    repository = TransactionRepository(uow)
    account = (await repository.lock_accounts([changed.user_id])).get(changed.user_id)
    if account is None:
        log.warning("limits of user %s changed, but no wallet of theirs is known", changed.user_id)
        return
    repository.learn(account, version=changed.version, allowance=changed.allowance)


async def learn_tier_limits(uow: UnitOfWork, *, announced: WalletTierLimits) -> None:
    """Take the tiers' monthly limits of ``wallet.tier_limits`` as theirs, if the
    announcement is newer than the one known: an operator changed wallets' limits, and
    every sender of a tier is checked against its new limit at once."""
    await TransactionRepository(uow).learn_tier_limits(announced)
    log.info("tier limits learned (version %d): %s", announced.version, announced.monthly_p2p_paise)
