"""HTTP routes of the wallets service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import IntegrityError

from tijori.common.app import RuntimeDep, UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal, PaymentTokenDep, PaymentTokenError
from tijori.common.body import StrictJsonRoute
from tijori.common.clock import utcnow
from tijori.common.errors import NotFoundError
from tijori.common.money import format_paise
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.common.periods import today
from tijori.wallets import freezes, own_limits
from tijori.wallets.config import WalletsSettings
from tijori.wallets.credentials import PasswordChecker
from tijori.wallets.limits import (
    limits_of,
    paid_on,
    period_starts,
    sent_in,
    upgrade_deadline,
)
from tijori.wallets.models import Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.schemas import (
    LedgerEntryRead,
    LimitRead,
    LimitsRead,
    UnfreezeRequest,
    UserLimitsMax,
    UserLimitsRequest,
    WalletRead,
)

router = APIRouter(prefix="/api/wallets", tags=["wallets"], route_class=StrictJsonRoute)


async def present_wallet(repository: WalletRepository, wallet: Wallet) -> WalletRead:
    """A wallet as the API shows it, with who froze it when it is frozen."""
    read = WalletRead.model_validate(wallet)
    read.frozen_by = await freezes.frozen_by(repository, wallet)
    return read


async def _own_wallet(uow: UnitOfWorkDep, user_id: str) -> WalletRead:
    repository = WalletRepository(uow)
    wallet = await repository.get_by_user(user_id)
    if wallet is None:
        raise NotFoundError(
            "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
        )
    return await present_wallet(repository, wallet)


@router.get(
    "/me",
    response_model=WalletRead,
    summary="My wallet",
    responses=problems({404: ["wallet_not_found"]}),
)
async def read_my_wallet(principal: CurrentPrincipal, uow: UnitOfWorkDep) -> WalletRead:
    """The caller's wallet and balance."""
    return await _own_wallet(uow, principal.user_id)


@router.get(
    "/me/entries",
    response_model=Page[LedgerEntryRead],
    summary="My ledger",
    responses=problems({404: ["wallet_not_found"], 422: ["validation_error", "invalid_cursor"]}),
)
async def list_my_entries(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[LedgerEntryRead]:
    """The caller's ledger entries, newest first."""
    wallet = await _own_wallet(uow, principal.user_id)
    entries = await WalletRepository(uow).entries(
        wallet.id, before_id=decode_cursor(cursor), limit=limit + 1
    )
    items = [LedgerEntryRead.model_validate(entry) for entry in entries[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(entries) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def _money_limit(name: str, period: str, limit: int | None, used: int) -> LimitRead:
    left = max(limit - used, 0) if limit is not None else None
    return LimitRead.model_validate(
        {
            "name": name,
            "period": period,
            "unit": "INR",
            "limit": format_paise(limit) if limit is not None else None,
            "used": format_paise(used),
            "left": format_paise(left) if left is not None else None,
        }
    )


async def limits_view(
    repository: WalletRepository, wallet: Wallet, settings: WalletsSettings
) -> LimitsRead:
    """The wallet's limits as ``GET /api/wallets/me/limits`` shows them."""
    tier = "FULL" if wallet.kyc_tier == "FULL" else "MINIMUM"
    limits = limits_of(settings, tier)
    now = utcnow()
    shown = [_money_limit("balance_cap", "balance", limits.balance_cap, wallet.balance_paise)]
    month, year = period_starts(now, settings.limits_timezone)
    user_id = wallet.user_id or ""
    if limits.monthly_load is not None:
        loaded = await repository.loaded_since(user_id, month)
        shown.append(_money_limit("monthly_load", "month", limits.monthly_load, loaded))
    if limits.yearly_load is not None:
        loaded = await repository.loaded_since(user_id, year)
        shown.append(_money_limit("yearly_load", "financial_year", limits.yearly_load, loaded))
    period = today(now, settings.limits_timezone)
    sent = sent_in(wallet, period.month)
    shown.append(_money_limit("monthly_p2p", "month", limits.monthly_p2p, sent))
    paid, payments = paid_on(wallet, period.day)
    shown.append(_money_limit("daily_amount", "day", wallet.daily_amount_cap_paise, paid))
    count_cap = wallet.daily_count_cap
    shown.append(
        LimitRead(
            name="daily_count",
            period="day",
            unit="payments",
            limit=count_cap,
            used=payments,
            left=max(count_cap - payments, 0) if count_cap is not None else None,
        )
    )
    return LimitsRead(
        tier=tier,
        limits=shown,
        user_limits_max=UserLimitsMax(
            daily_amount=settings.user_daily_amount_max,
            daily_count=settings.user_daily_count_max,
        ),
        kyc_upgrade_deadline=upgrade_deadline(wallet, settings),
    )


def settings_of(runtime: RuntimeDep) -> WalletsSettings:
    """The wallets service's settings, as it started with them."""
    settings = runtime.settings
    assert isinstance(settings, WalletsSettings)
    return settings


@router.get(
    "/me/limits",
    response_model=LimitsRead,
    summary="My limits",
    responses=problems({404: ["wallet_not_found"]}),
)
async def read_my_limits(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, runtime: RuntimeDep
) -> LimitsRead:
    """Each limit of the caller's KYC tier, what is used of it and what is left: the
    balance cap, money added this month and this financial year (minimum-detail wallets)
    and money sent to people this month; then the caller's own daily caps on the value
    and number of their payments (null while unset), the most they may set, and a
    minimum-KYC wallet's upgrade deadline."""
    repository = WalletRepository(uow)
    wallet = await repository.get_by_user(principal.user_id)
    if wallet is None:
        raise NotFoundError(
            "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
        )
    return await limits_view(repository, wallet, settings_of(runtime))


@router.put(
    "/me/limits",
    response_model=LimitsRead,
    summary="Set my daily caps",
    responses=problems(
        {
            403: ["payment_token_required", "payment_token_invalid"],
            404: ["wallet_not_found"],
            422: ["validation_error", "invalid_amount", "invalid_limit"],
        }
    ),
)
async def set_my_limits(
    body: UserLimitsRequest,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    payment: PaymentTokenDep,
) -> LimitsRead:
    """Set the caller's own daily caps on the value (`daily_amount`, rupees) and number
    (`daily_count`) of their payments, transfers and withdrawals alike; a field left
    out is unchanged, null removes the cap. Lowering takes effect at once and needs
    nothing more. Raising a cap (or removing it) needs `X-Payment-Token` from
    `POST /api/auth/payment-token` with `amount` = the new `daily_amount` (or, with no
    amount cap, `user_limits_max.daily_amount`), no `receiver`, and `idempotency_key` =
    `limits:<daily_amount or none>:<daily_count or none>` of the caps after the change,
    e.g. `limits:2000.00:none`; one raise per token. Answers the limits as
    `GET /api/wallets/me/limits` does."""
    settings = settings_of(runtime)
    wallet = await own_limits.set_own_limits(
        uow, user_id=principal.user_id, request=body, payment=payment, settings=settings
    )
    return await limits_view(WalletRepository(uow), wallet, settings)


async def get_password_checker(request: Request) -> PasswordChecker:
    """The client of users' password check, built at start-up (wallets/credentials.py)."""
    checker: PasswordChecker = request.app.state.password_checker
    return checker


PasswordCheckerDep = Annotated[PasswordChecker, Depends(get_password_checker)]


@router.post(
    "/me/freeze",
    response_model=WalletRead,
    summary="Freeze my wallet",
    responses=problems({404: ["wallet_not_found"]}),
)
async def freeze_my_wallet(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, runtime: RuntimeDep
) -> WalletRead:
    """Lost your phone? Freeze the wallet at once: every payment out of it (transfers,
    withdrawals) is refused until it is unfrozen; money sent to it still arrives. The
    owner is e-mailed. A wallet frozen already stays as it is."""
    wallet = await freezes.freeze(
        uow,
        user_id=principal.user_id,
        by="USER",
        actor_id=principal.user_id,
        settings=settings_of(runtime),
    )
    await uow.commit()
    return await present_wallet(WalletRepository(uow), wallet)


@router.post(
    "/me/unfreeze",
    response_model=WalletRead,
    summary="Unfreeze my wallet",
    responses=problems(
        {
            401: ["invalid_credentials", "session_ended"],
            403: ["payment_token_required", "payment_token_invalid", "frozen_by_admin"],
            404: ["wallet_not_found"],
            422: ["validation_error"],
            429: ["too_many_attempts"],
            503: ["service_unavailable"],
        }
    ),
)
async def unfreeze_my_wallet(
    body: UnfreezeRequest,
    request: Request,
    principal: CurrentPrincipal,
    payment: PaymentTokenDep,
    uow: UnitOfWorkDep,
    checker: PasswordCheckerDep,
    runtime: RuntimeDep,
) -> WalletRead:
    """Unfreeze the wallet with the password and, as `X-Payment-Token`, a payment token
    the PIN bought for `{"amount": 0, "idempotency_key": "wallet-unfreeze"}` (no receiver;
    single use). A wallet an ADMIN froze is theirs to unfreeze (403 `frozen_by_admin`).
    Wrong passwords count with the log-in limits. The owner is e-mailed."""
    wallet = await freezes.unfreeze_by_owner(
        uow,
        user_id=principal.user_id,
        password=body.password,
        authorization=request.headers.get("authorization", ""),
        payment=payment,
        checker=checker,
        settings=settings_of(runtime),
    )
    try:
        await uow.commit()
    except IntegrityError as error:  # the same token, in an unfreeze that raced this one
        raise PaymentTokenError("this payment token was used already") from error
    return await present_wallet(WalletRepository(uow), wallet)
