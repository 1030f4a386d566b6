"""Freezing a wallet: every debit refused, credits still arriving (docs/limits.md, "Freeze").

An owner freezes their own wallet at once (a lost phone) and unfreezes it with their
password and a payment token bought with their PIN; an ADMIN freezes and unfreezes any
wallet with a reason. A wallet an ADMIN froze is unfrozen by an ADMIN only. Each change
is one row of ``wallet_freezes``, the wallet's status (its version moves on) and a
``wallet.frozen`` or ``wallet.unfrozen`` event (the owner is e-mailed), with
``wallet.limits_changed`` (the allowance says whether the wallet is frozen: transactions'
pre-check refuses at once what a frozen wallet would pay, and pays again after an
unfreeze), in one database transaction under the wallet's lock; asking for the state the
wallet is in already changes nothing.
"""

from __future__ import annotations

import logging

from tijori.common.auth import PaymentAuthorisation, PaymentTokenError
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import NotFoundError, ProblemError
from tijori.common.events import FreezeActor, WalletFrozen, WalletUnfrozen
from tijori.common.metrics import WALLET_FREEZES, count_after_commit
from tijori.wallets.config import WalletsSettings
from tijori.wallets.credentials import PasswordChecker
from tijori.wallets.models import Wallet, WalletFreeze
from tijori.wallets.repository import WalletRepository
from tijori.wallets.service import announce_limits, default_settings, emit

log = logging.getLogger(__name__)

# what an unfreeze's payment token is bound to: no money moves (amount 0), no receiver,
# and this in place of an Idempotency-Key, so no token of a payment unfreezes a wallet
UNFREEZE_PURPOSE = "wallet-unfreeze"


class FrozenByAdminError(ProblemError):
    """The owner tried to unfreeze a wallet an ADMIN froze."""

    status, code = 403, "frozen_by_admin"


def _no_wallet() -> NotFoundError:
    return NotFoundError(
        "no wallet yet: it is opened moments after sign-up", code="wallet_not_found"
    )


async def _locked_wallet(repository: WalletRepository, user_id: str) -> Wallet:
    wallet = (await repository.lock_of_users(user_id)).get(user_id)
    if wallet is None:
        raise _no_wallet()
    return wallet


def _change(
    uow: UnitOfWork,
    repository: WalletRepository,
    wallet: Wallet,
    *,
    frozen: bool,
    by: FreezeActor,
    actor_id: str,
    reason: str | None,
    settings: WalletsSettings | None,
    payment_token_id: str | None = None,
) -> None:
    """Freeze or unfreeze a locked wallet, keep the change and stage its events."""
    assert wallet.user_id is not None
    change = WalletFreeze(
        wallet_id=wallet.id,
        user_id=wallet.user_id,
        action="FREEZE" if frozen else "UNFREEZE",
        by=by,
        actor_id=actor_id,
        reason=reason,
        payment_token_id=payment_token_id,
        created_at=utcnow(),
    )
    repository.set_status(wallet, "FROZEN" if frozen else "ACTIVE", change)
    said = {
        "wallet_id": wallet.id,
        "user_id": wallet.user_id,
        "email": wallet.email,
        "by": by,
        "actor_id": actor_id,
        "reason": reason,
    }
    event = WalletFrozen(**said) if frozen else WalletUnfrozen(**said)
    emit(uow, event, key=wallet.user_id, correlation_id=None)
    announce_limits(uow, wallet, settings or default_settings(), None)
    count_after_commit(uow, WALLET_FREEZES.labels(action="freeze" if frozen else "unfreeze", by=by))
    log.info("wallet %s %s by %s %s", wallet.id, "frozen" if frozen else "unfrozen", by, actor_id)


async def freeze(
    uow: UnitOfWork,
    *,
    user_id: str,
    by: FreezeActor,
    actor_id: str,
    reason: str | None = None,
    settings: WalletsSettings | None = None,
) -> Wallet:
    """Freeze the wallet of ``user_id`` (the caller commits); one frozen already stays
    as it is, whoever froze it."""
    repository = WalletRepository(uow)
    wallet = await _locked_wallet(repository, user_id)
    if wallet.status != "FROZEN":
        _change(
            uow,
            repository,
            wallet,
            frozen=True,
            by=by,
            actor_id=actor_id,
            reason=reason,
            settings=settings,
        )
    return wallet


async def unfreeze_by_admin(
    uow: UnitOfWork,
    *,
    user_id: str,
    admin_id: str,
    reason: str,
    settings: WalletsSettings | None = None,
) -> Wallet:
    """An ADMIN unfreezes the wallet of ``user_id``, whoever froze it (the caller commits)."""
    repository = WalletRepository(uow)
    wallet = await _locked_wallet(repository, user_id)
    if wallet.status == "FROZEN":
        _change(
            uow,
            repository,
            wallet,
            frozen=False,
            by="ADMIN",
            actor_id=admin_id,
            reason=reason,
            settings=settings,
        )
    return wallet


async def unfreeze_by_owner(
    uow: UnitOfWork,
    *,
    user_id: str,
    password: str,
    authorization: str,
    payment: PaymentAuthorisation,
    checker: PasswordChecker,
    settings: WalletsSettings | None = None,
) -> Wallet:
    """The owner unfreezes their wallet (the caller commits): first the payment token
    (bound to :data:`UNFREEZE_PURPOSE`, never used before), then who froze it (an
    ADMIN's freeze is theirs to lift), then the password, asked of users; every refusal
    comes before anything is written."""
    grant = payment.grant(amount_paise=0, receiver=None, idempotency_key=UNFREEZE_PURPOSE)
    repository = WalletRepository(uow)
    if await repository.payment_token_used(grant.token_id):
        raise PaymentTokenError("this payment token was used already: confirm with your PIN again")
    wallet = await repository.get_by_user(user_id)
    if wallet is None:
        raise _no_wallet()
    await _refuse_if_admin_froze(repository, wallet)  # before a password try is spent
    await checker.check(authorization, password)
    wallet = await _locked_wallet(repository, user_id)
    await _refuse_if_admin_froze(repository, wallet)  # an ADMIN may have frozen it meanwhile
    if wallet.status == "FROZEN":
        _change(
            uow,
            repository,
            wallet,
            frozen=False,
            by="USER",
            actor_id=user_id,
            reason=None,
            settings=settings,
            payment_token_id=grant.token_id,
        )
    return wallet


async def _refuse_if_admin_froze(repository: WalletRepository, wallet: Wallet) -> None:
    if await frozen_by(repository, wallet) == "ADMIN":
        raise FrozenByAdminError(
            "Tijori's team froze this wallet; contact support to have it unfrozen"
        )


async def frozen_by(repository: WalletRepository, wallet: Wallet) -> FreezeActor | None:
    """Who froze a frozen wallet (None for an active one, or one frozen before the
    history was kept)."""
    if wallet.status != "FROZEN":
        return None
    last = await repository.last_freeze(wallet.id)
    if last is None or last.action != "FREEZE":
        return None
    return "ADMIN" if last.by == "ADMIN" else "USER"
