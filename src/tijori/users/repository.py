"""All SQL of the users service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select

from tijori.common.db import UnitOfWork
from tijori.users.models import User

# built once: building a statement costs more than running it (docs/performance.md)
_PIN_HASH = select(User.pin_hash).where(User.id == bindparam("user_id"))


class UserRepository:
    """Reads and writes users in one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session

    async def get(self, user_id: str) -> User | None:
        """The user with ``user_id``."""
        return await self.session.get(User, user_id)

    async def pin_hash(self, user_id: str) -> tuple[bool, str | None]:
        """Whether the user exists, and the keyed hash of their PIN (``None``: not set):
        the one column a payment's PIN check needs, without loading the user."""
        row = (await self.session.execute(_PIN_HASH, {"user_id": user_id})).first()
        return (False, None) if row is None else (True, row[0])

    async def get_by_email(self, email: str) -> User | None:
        """The user with this (normalised) e-mail."""
        return await self.session.scalar(select(User).where(User.email == email))

    async def get_by_phone(self, phone: str) -> User | None:
        """The user with this E.164 phone."""
        return await self.session.scalar(select(User).where(User.phone == phone))

    async def add(self, user: User) -> User:
        """Insert ``user`` now; a unique key already taken raises ``IntegrityError``."""
        self.session.add(user)
        await self.session.flush()
        return user

    # --- KYC (users/kyc.py) ------------------------------------------------------

    async def lock(self, user_id: str) -> User | None:
        """The user with ``user_id``, locked ``SELECT ... FOR UPDATE`` and read afresh."""
        return await self.session.scalar(
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def kyc_checks_due(self, now: datetime, *, limit: int) -> Sequence[str]:
        """The ids of users whose PENDING KYC check is due to be asked about, oldest first."""
        return (
            await self.session.scalars(
                select(User.id)
                .where(User.kyc == "PENDING", User.kyc_check_at <= now)
                .order_by(User.kyc_check_at)
                .limit(limit)
            )
        ).all()
