"""Back-office routes of the wallets service (``/api/admin/wallets``, ADMIN only)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from tijori.common.app import RuntimeDep, UnitOfWorkDep
from tijori.common.auth import CurrentAdmin
from tijori.common.body import StrictJsonRoute
from tijori.common.errors import NotFoundError
from tijori.common.openapi import problems
from tijori.wallets import freezes
from tijori.wallets.api import present_wallet, settings_of
from tijori.wallets.repository import WalletRepository
from tijori.wallets.schemas import FreezeReason, WalletFreezeRead, WalletFreezesRead, WalletRead

router = APIRouter(prefix="/api/admin/wallets", tags=["admin"], route_class=StrictJsonRoute)

# an ADMIN's history of one wallet shows this many changes, newest first
FREEZES_SHOWN = 50
_ADMIN_PROBLEMS: dict[int, Sequence[str]] = {403: ["forbidden"], 404: ["wallet_not_found"]}


def _check_user_id(user_id: str) -> None:
    if len(user_id) > 36:  # no wallet's: ids are UUIDs
        raise NotFoundError("no such wallet", code="wallet_not_found")


@router.get(
    "/{user_id}/freezes",
    response_model=WalletFreezesRead,
    summary="A wallet's freezes",
    responses=problems(_ADMIN_PROBLEMS),
)
async def read_freezes(user_id: str, admin: CurrentAdmin, uow: UnitOfWorkDep) -> WalletFreezesRead:
    """The wallet of `user_id` and its freezes and unfreezes, newest first: who, when,
    and the reason an ADMIN gave."""
    _check_user_id(user_id)
    repository = WalletRepository(uow)
    wallet = await repository.get_by_user(user_id)
    if wallet is None:
        raise NotFoundError("no such wallet", code="wallet_not_found")
    history = await repository.freezes(wallet.id, limit=FREEZES_SHOWN)
    return WalletFreezesRead(
        wallet=await present_wallet(repository, wallet),
        freezes=[WalletFreezeRead.model_validate(change) for change in history],
    )


@router.post(
    "/{user_id}/freeze",
    response_model=WalletRead,
    summary="Freeze a wallet",
    responses=problems({**_ADMIN_PROBLEMS, 422: ["validation_error"]}),
)
async def freeze_wallet(
    user_id: str, body: FreezeReason, admin: CurrentAdmin, uow: UnitOfWorkDep, runtime: RuntimeDep
) -> WalletRead:
    """Freeze the wallet of `user_id`, with the reason kept in its history and e-mailed
    to its owner: every payment out of it is refused, money still comes in, and only an
    ADMIN unfreezes it. A wallet frozen already stays as it is."""
    _check_user_id(user_id)
    wallet = await freezes.freeze(
        uow,
        user_id=user_id,
        by="ADMIN",
        actor_id=admin.user_id,
        reason=body.reason,
        settings=settings_of(runtime),
    )
    await uow.commit()
    return await present_wallet(WalletRepository(uow), wallet)


@router.post(
    "/{user_id}/unfreeze",
    response_model=WalletRead,
    summary="Unfreeze a wallet",
    responses=problems({**_ADMIN_PROBLEMS, 422: ["validation_error"]}),
)
async def unfreeze_wallet(
    user_id: str, body: FreezeReason, admin: CurrentAdmin, uow: UnitOfWorkDep, runtime: RuntimeDep
) -> WalletRead:
    """Unfreeze the wallet of `user_id`, whoever froze it, with the reason kept and
    e-mailed. A wallet that is not frozen stays as it is."""
    _check_user_id(user_id)
    wallet = await freezes.unfreeze_by_admin(
        uow,
        user_id=user_id,
        admin_id=admin.user_id,
        reason=body.reason,
        settings=settings_of(runtime),
    )
    await uow.commit()
    return await present_wallet(WalletRepository(uow), wallet)
