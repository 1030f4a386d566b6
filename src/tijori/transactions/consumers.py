"""Events the transactions service applies, and its re-drive of stale PENDING transfers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.app import ServiceRuntime
from tijori.common.consumer import IdempotentConsumer
from tijori.common.db import retry_transient
from tijori.common.events import Envelope
from tijori.transactions import service
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.models import ProcessedEvent
from tijori.transactions.repository import TransactionRepository

log = logging.getLogger(__name__)

OUTCOMES = ("transfer.completed", "transfer.rejected")


async def prefetch_outcomes(session: AsyncSession, events: Sequence[Envelope[Any]]) -> None:
    """Lock the transactions and accounts of a batch's outcomes at once."""
    outcomes = [event.payload for event in events if event.type in OUTCOMES]
    if outcomes:
        await TransactionRepository(session).prefetch_outcomes(outcomes)


def register_consumers(runtime: ServiceRuntime) -> None:
    """Add the transactions consumer (group ``transactions``) and the re-drive loop."""
    settings = runtime.settings
    assert isinstance(settings, TransactionsSettings)

    async def on_wallet_created(session: AsyncSession, event: Envelope[Any]) -> None:
        await service.remember_wallet(
            session,
            runtime.cache,
            event.payload,
            ttl_seconds=settings.directory_cache_ttl_seconds,
        )

    async def on_outcome(session: AsyncSession, event: Envelope[Any]) -> None:
        await service.settle(session, outcome=event.payload, correlation_id=event.correlation_id)

    async def redrive_forever() -> None:
        pending_for = timedelta(seconds=settings.pending_timeout_seconds)
        while True:

            async def once() -> int:
                async with runtime.sessions() as session, session.begin():
                    return await service.redrive_stale(session, pending_for=pending_for)

            if await retry_transient(once, what="re-drive"):
                runtime.wake_relay()
            await asyncio.sleep(settings.redrive_poll_seconds)

    if runtime.bus is None:
        return
    runtime.workers.append(redrive_forever)
    runtime.consumers.append(
        IdempotentConsumer(
            name="transactions",
            bus=runtime.bus,
            sessions=runtime.sessions,
            processed_model=ProcessedEvent,
            handlers={
                "wallet.created": on_wallet_created,
                "transfer.completed": on_outcome,
                "transfer.rejected": on_outcome,
            },
            prefetch=prefetch_outcomes,
            after_commit=runtime.wake_relay,
        )
    )
