"""Business rules of the wallets service."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.events import UserCreated, WalletCreated, new_event
from tijori.common.outbox import add_to_outbox
from tijori.wallets.ledger import LedgerPair
from tijori.wallets.models import PROMOTIONS_WALLET_ID, OutboxMessage, Wallet
from tijori.wallets.repository import WalletRepository

log = logging.getLogger(__name__)


def promotion_reference(user_id: str) -> str:
    """The ledger reference of the sign-up promotion of ``user_id``."""
    return f"promo:{user_id}"


async def open_wallet(
    session: AsyncSession,
    *,
    user: UserCreated,
    promo_paise: int,
    correlation_id: str | None = None,
) -> Wallet:
    """Open the wallet of a new user, credit the promotion and stage ``wallet.created``.

    Opening is idempotent on the user: a second call returns the existing wallet and
    moves no money (the unique ``user_id`` and ledger reference also forbid it).
    """
    repository = WalletRepository(session)
    existing = await repository.get_by_user(user.user_id)
    if existing is not None:
        log.info("wallet of user %s already exists", user.user_id)
        return existing
    wallet = Wallet(
        user_id=user.user_id, kind="USER", email=user.email, phone=user.phone, balance_paise=0
    )
    repository.add(wallet)
    await session.flush()
    if promo_paise > 0:
        promotions = (await repository.lock(PROMOTIONS_WALLET_ID))[PROMOTIONS_WALLET_ID]
        pair = LedgerPair.move(
            source=promotions,
            destination=wallet,
            paise=promo_paise,
            reference=promotion_reference(user.user_id),
            kind="PROMOTION",
        )
        repository.add(*pair.entries)
    event = new_event(
        WalletCreated(
            wallet_id=wallet.id,
            user_id=user.user_id,
            email=user.email,
            phone=user.phone,
            balance_paise=wallet.balance_paise,
        ),
        correlation_id=correlation_id,
    )
    add_to_outbox(session, OutboxMessage, event, key=user.user_id)
    return wallet
