"""The user's own daily caps on the value and number of their payments (PRODUCT.md:
"users may set their own caps ... and raising a cap needs extra verification").

Lowering a cap takes effect at once; raising one (a higher cap, or none at all) needs a
payment token from ``POST /api/auth/payment-token``, checked as every debit's is
(:class:`~tijori.common.auth.PaymentAuthorisation`), bound to the caps the change leaves
(:func:`limits_marker`). The caps are columns of the wallet's row, changed under its
lock, so the next batch of payments already sees them; each change is recorded in
``limit_changes`` with the id of the token that raised it, a unique column, so a token
raises once (docs/limits.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from tijori.common.auth import PaymentAuthorisation, PaymentTokenError
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import NotFoundError, UnprocessableError
from tijori.common.money import format_paise, format_rupees
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import LimitChange, Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.schemas import UserLimitsRequest
from tijori.wallets.service import announce_limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyCaps:
    """A user's own daily caps: paise and payments a day (None: no cap of that kind)."""

    amount_paise: int | None
    count: int | None


def limits_marker(caps: DailyCaps) -> str:
    """The ``idempotency_key`` a payment token for a raise is asked with: the caps the
    change leaves, ``limits:<rupees or none>:<payments or none>`` (``limits:500.00:10``,
    ``limits:none:10``). A token for other caps, or for a payment, does not match."""
    amount = format_paise(caps.amount_paise) if caps.amount_paise is not None else "none"
    count = str(caps.count) if caps.count is not None else "none"
    return f"limits:{amount}:{count}"


def marker_amount(caps: DailyCaps, settings: WalletsSettings) -> int:
    """The ``amount`` a payment token for a raise is asked with: the new daily amount
    cap, or, with none, the most a user may set."""
    return caps.amount_paise if caps.amount_paise is not None else settings.user_daily_amount_max


def _raises(current: int | None, new: int | None) -> bool:
    """Whether ``new`` allows more than ``current`` (None: no cap, the most of all)."""
    if new is None:
        return current is not None
    return current is not None and new > current


def requested_caps(wallet: Wallet, request: UserLimitsRequest) -> DailyCaps:
    """The caps ``request`` leaves: a field it names (null included) replaces the
    wallet's cap, one it leaves out keeps it."""
    named = request.model_fields_set
    return DailyCaps(
        amount_paise=request.daily_amount
        if "daily_amount" in named
        else wallet.daily_amount_cap_paise,
        count=request.daily_count if "daily_count" in named else wallet.daily_count_cap,
    )


def check_maximum(request: UserLimitsRequest, settings: WalletsSettings) -> None:
    """422 ``invalid_limit`` for a cap above the most a user may set."""
    if request.daily_amount is not None and request.daily_amount > settings.user_daily_amount_max:
        raise UnprocessableError(
            f"a daily cap is at most {format_rupees(settings.user_daily_amount_max)}",
            code="invalid_limit",
        )
    if request.daily_count is not None and request.daily_count > settings.user_daily_count_max:
        raise UnprocessableError(
            f"a daily cap is at most {settings.user_daily_count_max} payments",
            code="invalid_limit",
        )


async def set_own_limits(
    uow: UnitOfWork,
    *,
    user_id: str,
    request: UserLimitsRequest,
    payment: PaymentAuthorisation,
    settings: WalletsSettings,
) -> Wallet:
    """Give the wallet of ``user_id`` the caps ``request`` asks for and commit: at once
    when none is raised, else only with a payment token bound to the new caps (403
    ``payment_token_required`` / ``payment_token_invalid``, nothing changed). A request
    that changes nothing changes nothing, and needs no token."""
    check_maximum(request, settings)
    repository = WalletRepository(uow)
    wallet = (await repository.lock_of_users(user_id)).get(user_id)
    if wallet is None:
        raise NotFoundError(
            "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
        )
    caps = requested_caps(wallet, request)
    if caps == DailyCaps(wallet.daily_amount_cap_paise, wallet.daily_count_cap):
        return wallet
    raised = _raises(wallet.daily_amount_cap_paise, caps.amount_paise) or _raises(
        wallet.daily_count_cap, caps.count
    )
    token_id: str | None = None
    if raised:
        grant = payment.grant(
            amount_paise=marker_amount(caps, settings),
            receiver=None,
            idempotency_key=limits_marker(caps),
        )
        token_id = grant.token_id
    repository.set_daily_caps(
        wallet,
        amount_paise=caps.amount_paise,
        count=caps.count,
        change=LimitChange(
            user_id=user_id,
            daily_amount_cap_paise=caps.amount_paise,
            daily_count_cap=caps.count,
            raised=raised,
            payment_token_id=token_id,
            created_at=utcnow(),
        ),
    )
    # transactions' pre-check learns the new caps from this (a raise must not go on
    # being refused there)
    announce_limits(uow, wallet, settings, correlation_id=None)
    try:
        await uow.commit()
    except IntegrityError as error:
        # the only unique key of the change: its token raised caps before
        raise PaymentTokenError("this payment token was used already") from error
    log.info("wallet %s: own daily caps now %s (raised: %s)", wallet.id, caps, raised)
    return wallet
