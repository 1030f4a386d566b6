"""All SQL of the wallets service."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tijori.wallets.models import LedgerEntry, Transfer, Wallet


class WalletRepository:
    """Reads and writes wallets and ledger entries in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_user(self, user_id: str) -> Wallet | None:
        """The wallet of ``user_id``."""
        return await self.session.scalar(select(Wallet).where(Wallet.user_id == user_id))

    async def lock(self, *wallet_ids: str) -> dict[str, Wallet]:
        """Lock the wallets ``SELECT ... FOR UPDATE``, lowest id first; by id, those found."""
        return await self._lock_in_order(Wallet.id, wallet_ids)

    async def lock_of_users(self, *user_ids: str) -> dict[str, Wallet]:
        """Lock the wallets of ``user_ids``, lowest user id first; by user id, those found.

        Every transfer locks in this one order, so two over the same wallets queue
        instead of deadlocking.
        """
        return await self._lock_in_order(Wallet.user_id, user_ids)

    async def _lock_in_order(
        self, column: InstrumentedAttribute[Any], keys: Iterable[str]
    ) -> dict[str, Wallet]:
        wallets: dict[str, Wallet] = {}
        for key in sorted(set(keys)):
            wallet = await self.session.scalar(
                select(Wallet)
                .where(column == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if wallet is not None:
                wallets[key] = wallet
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
