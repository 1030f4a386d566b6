"""All SQL of the wallets service."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tijori.wallets.models import LedgerEntry, Transfer, Wallet


class WalletRepository:
    """Reads and writes wallets and ledger entries in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_user(self, user_id: str) -> Wallet | None:
        """The wallet of ``user_id``."""
        return await self.session.scalar(select(Wallet).where(Wallet.user_id == user_id))

    async def lock(self, *wallet_ids: str) -> dict[str, Wallet]:
        """Lock the wallets ``SELECT ... FOR UPDATE``, lowest id first, so that two
        movements over the same wallets always queue instead of deadlocking."""
        wallets: dict[str, Wallet] = {}
        for wallet_id in sorted(set(wallet_ids)):
            wallet = await self.session.scalar(
                select(Wallet)
                .where(Wallet.id == wallet_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if wallet is not None:
                wallets[wallet_id] = wallet
        return wallets

    async def lock_of_users(self, *user_ids: str) -> dict[str, Wallet]:
        """Lock the wallets of ``user_ids`` ``SELECT ... FOR UPDATE``, lowest user id first
        (one order for every transfer, so two over the same wallets queue instead of
        deadlocking); by user id, the wallets found."""
        wallets: dict[str, Wallet] = {}
        for user_id in sorted(set(user_ids)):
            wallet = await self.session.scalar(
                select(Wallet)
                .where(Wallet.user_id == user_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if wallet is not None:
                wallets[user_id] = wallet
        return wallets

    async def get_transfer(self, transaction_id: str) -> Transfer | None:
        """The recorded outcome of ``transaction_id``, if it was already applied or refused."""
        return await self.session.get(Transfer, transaction_id)

    def add(self, *items: Wallet | LedgerEntry | Transfer) -> None:
        """Stage new wallets or entries."""
        self.session.add_all(items)

    async def entries(
        self, wallet_id: str, *, before_id: int | None, limit: int
    ) -> Sequence[LedgerEntry]:
        """The wallet's entries, newest first, older than ``before_id`` when given."""
        query = select(LedgerEntry).where(LedgerEntry.wallet_id == wallet_id)
        if before_id is not None:
            query = query.where(LedgerEntry.id < before_id)
        return (
            await self.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit))
        ).all()
