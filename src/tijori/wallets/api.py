"""HTTP routes of the wallets service."""

from __future__ import annotations

from fastapi import APIRouter

from tijori.common.app import UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal
from tijori.common.body import StrictJsonRoute
from tijori.common.errors import NotFoundError
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.wallets.repository import WalletRepository
from tijori.wallets.schemas import LedgerEntryRead, WalletRead

router = APIRouter(prefix="/api/wallets", tags=["wallets"], route_class=StrictJsonRoute)


async def _own_wallet(uow: UnitOfWorkDep, user_id: str) -> WalletRead:
    wallet = await WalletRepository(uow).get_by_user(user_id)
    if wallet is None:
        raise NotFoundError(
            "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
        )
    return WalletRead.model_validate(wallet)


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
