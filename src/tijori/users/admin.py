"""Operator actions on users."""

from __future__ import annotations

from sqlalchemy import select

from tijori.common.cache import CacheUnavailableError, create_cache
from tijori.common.db import UnitOfWork, create_engine, create_sessionmaker
from tijori.users.config import UsersSettings
from tijori.users.models import User
from tijori.users.service import user_cache_key


async def grant_admin(email: str, *, settings: UsersSettings | None = None) -> bool:
    """Give the user with ``email`` the ADMIN authority; False when there is no such user."""
    settings = settings or UsersSettings()
    engine = create_engine(settings.resolved_database_url)
    cache = create_cache(settings.redis_url)
    try:
        async with UnitOfWork(create_sessionmaker(engine)) as uow:
            user = await uow.session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                return False
            user.authority = "ADMIN"
            await uow.commit()
        try:
            await cache.delete(user_cache_key(user.id))
        except CacheUnavailableError:
            pass
        return True
    finally:
        await cache.close()
        await engine.dispose()
