"""Events the transactions service applies, its re-drive of stale PENDING transfers, and
the transfer desk its routes accept transfers at."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.db import UnitOfWork, retry_transient
from tijori.common.events import Envelope
from tijori.transactions import allowance, directory, settlement
from tijori.transactions.acceptor import TransferAcceptor, TransferDesk
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.models import ProcessedEvent
from tijori.transactions.repository import TransactionRepository

log = logging.getLogger(__name__)

OUTCOMES = ("transfer.completed", "transfer.rejected")
LIMITS_CHANGED = "wallet.limits_changed"


async def prefetch_outcomes(uow: UnitOfWork, events: Sequence[Envelope[Any]]) -> None:
    """Lock the transactions and accounts of a batch's outcomes, and the accounts whose
    limits changed, at once (in user id order)."""
    outcomes = [event.payload for event in events if event.type in OUTCOMES]
    changed = [event.payload.user_id for event in events if event.type == LIMITS_CHANGED]
    if outcomes or changed:
        await TransactionRepository(uow).prefetch_outcomes(outcomes, accounts=changed)


def register_consumers(runtime: ServiceRuntime) -> None:
    """Build the transfer desk, and add the transactions consumer (group
    ``transactions``) and the re-drive loop."""
    settings = runtime.settings
    assert isinstance(settings, TransactionsSettings)
    runtime.components["transfer_desk"] = TransferDesk(
        units=runtime.unit_of_work,
        cache=runtime.cache,
        settings=settings,
        acceptor=TransferAcceptor(runtime.unit_of_work, timezone=settings.limits_timezone),
    )

    async def on_wallet_created(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await directory.remember_wallet(
            uow, runtime.cache, event.payload, ttl_seconds=settings.directory_cache_ttl_seconds
        )

    async def on_outcome(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await settlement.settle(uow, outcome=event.payload, correlation_id=event.correlation_id)

    async def on_limits_changed(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await allowance.learn_limits(uow, changed=event.payload)

    async def on_tier_limits(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await allowance.learn_tier_limits(uow, announced=event.payload)

    async def redrive_forever() -> None:
        pending_for = timedelta(seconds=settings.pending_timeout_seconds)

        async def once() -> None:
            async with runtime.unit_of_work() as uow:
                await settlement.redrive_stale(uow, pending_for=pending_for)
                await uow.commit()

        while True:
            await retry_transient(once, what="re-drive")
            await asyncio.sleep(settings.redrive_poll_seconds)

    if runtime.bus is not None:
        runtime.workers.append(redrive_forever)
    runtime.consume(
        "transactions",
        processed_model=ProcessedEvent,
        handlers={
            "wallet.created": on_wallet_created,
            # a promotion credited after verification: the same directory entry, newer balance
            "wallet.promotion_credited": on_wallet_created,
            "transfer.completed": on_outcome,
            "transfer.rejected": on_outcome,
            "wallet.limits_changed": on_limits_changed,
            "wallet.tier_limits": on_tier_limits,
        },
        prefetch=prefetch_outcomes,
    )
