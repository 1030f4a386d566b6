"""Group commit: the transfers that concurrent requests accept go into one database
transaction.

Each request checks what it can alone (:func:`acceptance.check_transfer`), then hands
its candidate to the acceptor and waits. The acceptor stores whatever is waiting in one
database transaction (:func:`acceptance.accept_batch`: two reads, one insert per table,
one commit) and answers each request; what arrived meanwhile is the next batch. With
one request in flight a batch is that request; under load, batches grow by themselves,
and the reads, inserts and commit are shared. This transaction is the scope that commits,
as a consumer's is for a batch of events.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from tijori.common.cache import Cache
from tijori.common.db import UnitOfWorkFactory, retry_transient
from tijori.common.errors import ProblemError
from tijori.common.metrics import ACCEPT_BATCH_TRANSFERS
from tijori.common.periods import INDIA
from tijori.transactions import acceptance
from tijori.transactions.acceptance import Accepted, TransferCandidate
from tijori.transactions.config import TransactionsSettings

log = logging.getLogger(__name__)

# the most transfers one database transaction stores
MAX_BATCH = 100

Outcome = Accepted | ProblemError


class TransferAcceptor:
    """Stores checked transfers in batches; one per process."""

    def __init__(self, units: UnitOfWorkFactory, *, timezone: str = INDIA) -> None:
        self.units = units
        # where the pre-check's months and days are (TIJORI_LIMITS_TIMEZONE)
        self.timezone = timezone
        self._waiting: list[tuple[TransferCandidate, asyncio.Future[Outcome]]] = []
        self._storing: asyncio.Task[None] | None = None
        self.batches = 0

    async def accept(self, candidate: TransferCandidate) -> Accepted:
        """Decide and store ``candidate`` with whatever else is waiting; its outcome.

        Raises the refusal (a problem) if it was refused. Stored even if the caller
        stops waiting.
        """
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((candidate, future))
        if self._storing is None or self._storing.done():
            # a context of its own: not the correlation id and span of whichever
            # request happened to start it
            self._storing = asyncio.create_task(
                self._store_waiting(), context=contextvars.Context()
            )
        outcome = await asyncio.shield(future)
        if isinstance(outcome, ProblemError):
            raise outcome
        return outcome

    async def _store_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                outcomes = await self._store([candidate for candidate, _ in batch])
            except Exception as error:  # the database is away: every request hears why
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                future.set_result(outcome)

    async def _store(self, candidates: Sequence[TransferCandidate]) -> list[Outcome]:
        async def together() -> list[Outcome]:
            async with self.units() as uow:
                outcomes = await acceptance.accept_batch(uow, candidates, timezone=self.timezone)
                await uow.commit()
                return outcomes

        self.batches += 1
        ACCEPT_BATCH_TRANSFERS.observe(len(candidates))
        try:
            return await retry_transient(together, what=f"accepting {len(candidates)} transfers")
        except IntegrityError:
            if len(candidates) > 1:
                log.info("an Idempotency-Key was taken meanwhile; deciding one at a time")
            return [await self._store_one(candidate) for candidate in candidates]

    async def _store_one(self, candidate: TransferCandidate) -> Outcome:
        async def alone() -> list[Outcome]:
            async with self.units() as uow:
                outcomes = await acceptance.accept_batch(uow, [candidate], timezone=self.timezone)
                await uow.commit()
                return outcomes

        try:
            [outcome] = await retry_transient(alone, what="accepting a transfer")
            return outcome
        except IntegrityError:
            # its key was stored by a twin request in another process: that one's answer
            async with self.units() as uow:
                try:
                    return await acceptance.replay_after_race(uow, candidate)
                except ProblemError as refusal:
                    return refusal


@dataclass(frozen=True)
class TransferDesk:
    """What accepting a transfer needs besides the request: built once, at start-up.

    One dependency instead of four (runtime, unit of work, settings, acceptor) for the
    busiest route, since FastAPI resolves each anew on every request
    (docs/performance.md)."""

    units: UnitOfWorkFactory
    cache: Cache
    settings: TransactionsSettings
    acceptor: TransferAcceptor
