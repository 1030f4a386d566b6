"""All SQL of the payments service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from tijori.common.db import UnitOfWork
from tijori.payments.models import Customer, Topup, WebhookEvent, Withdrawal

# how far each status is along: a top-up or withdrawal never moves back
TOPUP_RANKS = {"CREATED": 0, "FAILED": 1, "CAPTURED": 2, "CREDITED": 3, "REFUNDED": 3}
WITHDRAWAL_RANKS = {
    "REQUESTED": 0,
    "HELD": 1,
    "PROCESSING": 2,
    "PROCESSED": 3,
    "FAILED": 3,
    "REVERSED": 4,
}


class PaymentsRepository:
    """Reads and writes top-ups, withdrawals and webhook events in one unit of work.

    A top-up or withdrawal is locked (``SELECT ... FOR UPDATE``) before it changes, and
    changes only through :meth:`advance_topup`, :meth:`advance_withdrawal` and
    :meth:`schedule`, which refuse to move a status backwards.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    # --- customers --------------------------------------------------------------

    async def remember_customer(self, *, user_id: str, name: str, email: str) -> None:
        """Keep a user's name and e-mail address (once: a user's sign-up is one event)."""
        if await self.session.get(Customer, user_id) is None:
            self.session.add(Customer(user_id=user_id, name=name, email=email))

    async def customer(self, user_id: str) -> Customer | None:
        """The name and e-mail of ``user_id``, if its sign-up has arrived."""
        return await self.session.get(Customer, user_id)

    # --- top-ups ----------------------------------------------------------------

    def add_topup(self, topup: Topup) -> None:
        """Add a new top-up (inserted at commit)."""
        self.session.add(topup)

    async def topup(self, topup_id: str, *, lock: bool = False) -> Topup | None:
        """The top-up ``topup_id``; with ``lock``, locked and held for a change."""
        topup: Topup | None = await self._one(select(Topup).where(Topup.id == topup_id), lock=lock)
        return topup

    async def topup_of_order(self, order_id: str, *, lock: bool = False) -> Topup | None:
        """The top-up of the gateway's order ``order_id``."""
        query = select(Topup).where(Topup.order_id == order_id)
        topup: Topup | None = await self._one(query, lock=lock)
        return topup

    async def topup_of_payment(self, payment_id: str, *, lock: bool = False) -> Topup | None:
        """The top-up the gateway's payment ``payment_id`` paid."""
        query = select(Topup).where(Topup.payment_id == payment_id)
        topup: Topup | None = await self._one(query, lock=lock)
        return topup

    def advance_topup(self, topup: Topup, status: str, **values: Any) -> bool:
        """Move a locked top-up on to ``status`` (with ``values``); False, changing
        nothing, if that would move it back or nowhere."""
        if TOPUP_RANKS[status] <= TOPUP_RANKS[topup.status]:
            return False
        self.uow.update(topup, status=status, **values)
        return True

    async def topups(self, user_id: str, *, before_seq: int | None, limit: int) -> Sequence[Topup]:
        """The user's top-ups, newest first."""
        query = select(Topup).where(Topup.user_id == user_id)
        if before_seq is not None:
            query = query.where(Topup.seq < before_seq)
        return (await self.session.scalars(query.order_by(Topup.seq.desc()).limit(limit))).all()

    async def topups_to_check(self, now: datetime, *, limit: int = 50) -> Sequence[Topup]:
        """Top-ups whose time to ask the gateway has come (to read): orders not paid
        yet, and refunds due."""
        query = (
            select(Topup)
            .where(
                Topup.check_at <= now,
                or_(
                    Topup.status.in_(("CREATED", "FAILED")),
                    and_(Topup.status == "CAPTURED", Topup.refund_due),
                ),
            )
            .order_by(Topup.check_at)
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    # --- withdrawals ------------------------------------------------------------

    def add_withdrawal(self, withdrawal: Withdrawal) -> None:
        """Add a new withdrawal (inserted at commit)."""
        self.session.add(withdrawal)

    async def withdrawal(self, withdrawal_id: str, *, lock: bool = False) -> Withdrawal | None:
        """The withdrawal ``withdrawal_id``; with ``lock``, locked and held for a change."""
        query = select(Withdrawal).where(Withdrawal.id == withdrawal_id)
        withdrawal: Withdrawal | None = await self._one(query, lock=lock)
        return withdrawal

    async def withdrawal_of_key(self, user_id: str, key: str) -> Withdrawal | None:
        """The withdrawal ``user_id`` asked for with the Idempotency-Key ``key``."""
        query = select(Withdrawal).where(
            Withdrawal.user_id == user_id, Withdrawal.idempotency_key == key
        )
        withdrawal: Withdrawal | None = await self._one(query, lock=False)
        return withdrawal

    def advance_withdrawal(self, withdrawal: Withdrawal, status: str, **values: Any) -> bool:
        """Move a locked withdrawal on to ``status``; False, changing nothing, if that
        would move it back or nowhere."""
        if WITHDRAWAL_RANKS[status] <= WITHDRAWAL_RANKS[withdrawal.status]:
            return False
        self.uow.update(withdrawal, status=status, **values)
        return True

    def schedule(self, row: Topup | Withdrawal, check_at: datetime, **values: Any) -> None:
        """Set when to ask the gateway about a locked top-up or withdrawal next."""
        self.uow.update(row, check_at=check_at, **values)

    async def withdrawals(
        self, user_id: str, *, before_seq: int | None, limit: int
    ) -> Sequence[Withdrawal]:
        """The user's withdrawals, newest first."""
        query = select(Withdrawal).where(Withdrawal.user_id == user_id)
        if before_seq is not None:
            query = query.where(Withdrawal.seq < before_seq)
        query = query.order_by(Withdrawal.seq.desc()).limit(limit)
        return (await self.session.scalars(query)).all()

    async def withdrawals_to_check(self, now: datetime, *, limit: int = 50) -> Sequence[Withdrawal]:
        """Withdrawals waiting on the gateway whose time to request or ask has come."""
        query = (
            select(Withdrawal)
            .where(Withdrawal.status.in_(("HELD", "PROCESSING")), Withdrawal.check_at <= now)
            .order_by(Withdrawal.check_at)
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    # --- webhooks ---------------------------------------------------------------

    async def first_delivery(self, event_id: str, event: str) -> bool:
        """Record a webhook's event id now, as the transaction's first write; False (the
        transaction rolled back) if it was recorded before: a delivery of the same event
        again, which changes nothing. A delivery racing this one waits on the key until
        this transaction ends."""
        try:
            await self.uow.insert_now(WebhookEvent, [{"event_id": event_id, "event": event}])
        except IntegrityError:
            await self.uow.rollback()
            return False
        return True

    async def _one(self, query: Any, *, lock: bool) -> Any:
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(query)
        if lock and row is not None:
            self.uow.hold([row])
        return row
