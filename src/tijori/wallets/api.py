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
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.wallets import freezes
from tijori.wallets.config import WalletsSettings
from tijori.wallets.credentials import PasswordChecker
from tijori.wallets.limits import limits_of, month_key, period_starts, sent_in
from tijori.wallets.models import Wallet
from tijori.wallets.repository import WalletRepository
from tijori.wallets.schemas import (
    LedgerEntryRead,
    LimitRead,
    LimitsRead,
    UnfreezeRequest,
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


def _limit(name: str, period: str, limit: int, used: int) -> LimitRead:
    return LimitRead.model_validate(
        {"name": name, "period": period, "limit": limit, "used": used, "left": max(limit - used, 0)}
    )


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
    and money sent to people this month."""
    settings = runtime.settings
    assert isinstance(settings, WalletsSettings)
    repository = WalletRepository(uow)
    wallet = await repository.get_by_user(principal.user_id)
    if wallet is None:
        raise NotFoundError(
            "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
        )
    tier = "FULL" if wallet.kyc_tier == "FULL" else "MINIMUM"
    limits = limits_of(settings, tier)
    now = utcnow()
    shown = [_limit("balance_cap", "balance", limits.balance_cap, wallet.balance_paise)]
    month, year = period_starts(now, settings.limits_timezone)
    if limits.monthly_load is not None:
        loaded = await repository.loaded_since(principal.user_id, month)
        shown.append(_limit("monthly_load", "month", limits.monthly_load, loaded))
    if limits.yearly_load is not None:
        loaded = await repository.loaded_since(principal.user_id, year)
        shown.append(_limit("yearly_load", "financial_year", limits.yearly_load, loaded))
    sent = sent_in(wallet, month_key(now, settings.limits_timezone))
    shown.append(_limit("monthly_p2p", "month", limits.monthly_p2p, sent))
    return LimitsRead(tier=tier, limits=shown)


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
async def freeze_my_wallet(principal: CurrentPrincipal, uow: UnitOfWorkDep) -> WalletRead:
    """Lost your phone? Freeze the wallet at once: every payment out of it (transfers,
    withdrawals) is refused until it is unfrozen; money sent to it still arrives. The
    owner is e-mailed. A wallet frozen already stays as it is."""
    wallet = await freezes.freeze(
        uow, user_id=principal.user_id, by="USER", actor_id=principal.user_id
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
    )
    try:
        await uow.commit()
    except IntegrityError as error:  # the same token, in an unfreeze that raced this one
        raise PaymentTokenError("this payment token was used already") from error
    return await present_wallet(WalletRepository(uow), wallet)
