"""Helpers for the tests of transactions' pre-check: allowances as wallets tells them,
learned into the migrated transactions database, and the events wallets staged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import Allowance, WalletLimitsChanged, parse_event
from tijori.common.periods import INDIA, today
from tijori.transactions import allowance
from tijori.transactions.models import Account, Transaction
from tijori.wallets.models import OutboxMessage as WalletOutbox


def an_allowance(**values: Any) -> Allowance:
    """A minimum-KYC wallet's allowance (a ₹100 monthly limit, no caps of its own), with
    ``values`` instead."""
    defaults: dict[str, Any] = {
        "monthly_p2p_paise": 10_000,
        "p2p_month": "2026-12",
        "p2p_sent_paise": 0,
        "daily_amount_cap_paise": None,
        "daily_count_cap": None,
        "pay_day": "2026-12-15",
        "day_paid_paise": 0,
        "day_payments": 0,
    }
    return Allowance(**(defaults | values))


async def account_of(units: UnitOfWorkFactory, user_id: str) -> Account:
    """What transactions knows of ``user_id``'s wallet."""
    async with units() as uow:
        account = await uow.session.get(Account, user_id)
        assert account is not None
        return account


async def learn(units: UnitOfWorkFactory, user_id: str, version: int, known: Allowance) -> None:
    """Transactions told ``known`` by ``wallet.limits_changed`` at ``version``."""
    changed = WalletLimitsChanged(
        wallet_id=f"w-{user_id}", user_id=user_id, version=version, allowance=known
    )
    async with units() as uow:
        await allowance.learn_limits(uow, changed=changed)
        await uow.commit()


async def knows(units: UnitOfWorkFactory, **values: Any) -> None:
    """Asha's allowance, as of today in India, known at a version above any before."""
    now = today(utcnow(), INDIA)
    account = await account_of(units, "asha")
    known = an_allowance(p2p_month=now.month, pay_day=now.day, **values)
    await learn(units, "asha", (account.limits_version or 0) + 100, known)


async def pending_amounts(units: UnitOfWorkFactory) -> list[int]:
    """The amounts of the PENDING transactions."""
    async with units() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(Transaction.amount_paise).where(Transaction.status == "PENDING")
                )
            ).all()
        )


async def wallet_events(units: UnitOfWorkFactory, topic: str) -> list[Any]:
    """The payloads of ``topic`` in the wallets outbox, oldest first."""
    async with units() as uow:
        bodies = (
            await uow.session.scalars(
                select(WalletOutbox.body)
                .where(WalletOutbox.topic == topic)
                .order_by(WalletOutbox.id)
            )
        ).all()
    return [parse_event(body).payload for body in bodies]
