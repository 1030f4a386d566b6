"""All SQL of the users service."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tijori.common.errors import ConflictError
from tijori.users.models import User


class UserRepository:
    """Reads and writes users in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str) -> User | None:
        """The user with ``user_id``."""
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """The user with this (normalised) e-mail."""
        return await self.session.scalar(select(User).where(User.email == email))

    async def get_by_phone(self, phone: str) -> User | None:
        """The user with this E.164 phone."""
        return await self.session.scalar(select(User).where(User.phone == phone))

    async def add(self, user: User) -> User:
        """Insert ``user``; the unique constraints, not a prior read, refuse duplicates."""
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as error:
            await self.session.rollback()
            message = str(error.orig)
            if "uq_users_email" in message or "users.email" in message:
                raise ConflictError(
                    "an account with this e-mail already exists", code="email_taken"
                ) from error
            if "uq_users_phone" in message or "users.phone" in message:
                raise ConflictError(
                    "an account with this phone already exists", code="phone_taken"
                ) from error
            raise
        return user
