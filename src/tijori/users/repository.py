"""All SQL of the users service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.engine import CursorResult

from tijori.common.db import UnitOfWork
from tijori.common.db.driver import DriverRead
from tijori.users.models import RefreshToken, User, UserSession
from tijori.users.pin import Strikes

# built once: building a statement costs more than running it (docs/performance.md)
PAYMENT_CHECK = (
    select(
        User.pin_hash,
        User.email_verified,
        User.pin_failures,
        User.pin_failures_until,
        UserSession.ended_at,
        UserSession.expires_at,
        UserSession.last_used_at,
    )
    .outerjoin(
        UserSession,
        and_(UserSession.id == bindparam("session_id"), UserSession.user_id == User.id),
    )
    .where(User.id == bindparam("user_id"))
)


@dataclass(frozen=True)
class PaymentCheck:
    """What a payment's PIN check reads: the user's PIN hash (``None``: not set), whether
    their e-mail is verified, and the times of the log-in session the caller's token
    names (``None``: no such session of this user), and the wrong PINs counted."""

    pin_hash: str | None
    email_verified: bool
    strikes: Strikes
    session_times: tuple[datetime | None, datetime, datetime] | None


async def payment_check(
    read: DriverRead, user_id: str, session_id: str | None
) -> PaymentCheck | None:
    """What a payment's PIN check needs, in one statement and without loading the user:
    the PIN hash, whether the e-mail is verified, and the caller's session (ended at,
    expires at, last used at). ``None`` when there is no such user. ``read`` is
    :data:`PAYMENT_CHECK` on the bare driver: the route runs once per payment."""
    row = await read.first({"user_id": user_id, "session_id": session_id or ""})
    if row is None:
        return None
    pin_hash, email_verified, failures, failures_until, ended_at, expires_at, last_used_at = row
    times = None if expires_at is None else (ended_at, expires_at, last_used_at)
    return PaymentCheck(
        pin_hash=pin_hash,
        email_verified=bool(email_verified),
        strikes=Strikes(count=failures, until=failures_until),
        session_times=times,
    )


class UserRepository:
    """Reads and writes users in one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session

    async def get(self, user_id: str) -> User | None:
        """The user with ``user_id``."""
        return await self.session.get(User, user_id)

    async def get_by_email(self, email_normalized: str) -> User | None:
        """The user whose normalised e-mail (``normalize_email``) is exactly this."""
        return await self.session.scalar(
            select(User).where(User.email_normalized == email_normalized)
        )

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

    async def kyc_checks_due(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        """The users whose PENDING KYC check is due to be asked about, oldest first, each
        with the verifier's reference of its check (read without a lock)."""
        rows = await self.session.execute(
            select(User.id, User.kyc_reference)
            .where(
                User.kyc == "PENDING",
                User.kyc_check_at <= now,
                User.kyc_reference.is_not(None),
            )
            .order_by(User.kyc_check_at)
            .limit(limit)
        )
        return [(str(user_id), str(reference)) for user_id, reference in rows.all()]


class SessionRepository:
    """Reads and writes log-in sessions and their refresh tokens in one unit of work.

    Rows change only through these statements: each is one conditional ``UPDATE``, so
    that two requests racing for one refresh token cannot both win."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session

    async def start(self, user_session: UserSession, *, token_hash: str) -> None:
        """Insert a new session with its first refresh token."""
        self.session.add(user_session)
        await self.session.flush()  # the token refers to the session
        self.session.add(RefreshToken(token_hash=token_hash, session_id=user_session.id))
        await self.session.flush()

    async def get(self, session_id: str) -> UserSession | None:
        """The session with ``session_id``."""
        return await self.session.get(UserSession, session_id)

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The refresh token whose SHA-256 is ``token_hash``, used or not."""
        return await self.session.get(RefreshToken, token_hash)

    async def rotate(
        self, *, session_id: str, used_hash: str, new_hash: str, now: datetime
    ) -> bool:
        """Mark the refresh token ``used_hash`` used and give the session ``new_hash``;
        False (and nothing changed) when it had been used already."""
        claimed = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == used_hash, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) != 1:
            return False
        self.session.add(RefreshToken(token_hash=new_hash, session_id=session_id, created_at=now))
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.flush()
        return True

    async def delete_expired(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` of the sessions that expired before ``before``, the
        oldest first, with their refresh tokens; how many sessions."""
        ids = (
            await self.session.scalars(
                select(UserSession.id)
                .where(UserSession.expires_at < before)
                .order_by(UserSession.expires_at)
                .limit(limit)
            )
        ).all()
        if ids:
            await self.session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(ids)))
            await self.session.execute(delete(UserSession).where(UserSession.id.in_(ids)))
        return len(ids)

    async def open_sessions(
        self, user_id: str, *, now: datetime, idle_since: datetime
    ) -> list[UserSession]:
        """``user_id``'s sessions that are neither ended, expired nor idle since
        ``idle_since``, the most recently used first."""
        found = await self.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
                UserSession.last_used_at > idle_since,
            )
            .order_by(UserSession.last_used_at.desc(), UserSession.id)
        )
        return list(found)

    async def end(
        self,
        user_id: str,
        *,
        reason: str,
        now: datetime,
        session_id: str | None = None,
        keep: str | None = None,
    ) -> int:
        """End ``user_id``'s session ``session_id`` (or, without it, every session of
        theirs but ``keep``) that has not ended yet; how many were ended."""
        statement = update(UserSession).where(
            UserSession.user_id == user_id, UserSession.ended_at.is_(None)
        )
        if session_id is not None:
            statement = statement.where(UserSession.id == session_id)
        if keep is not None:
            statement = statement.where(UserSession.id != keep)
        ended = await self.session.execute(
            statement.values(ended_at=now, end_reason=reason).execution_options(
                synchronize_session=False
            )
        )
        return _rowcount(ended)


def _rowcount(result: Any) -> int:
    """Rows an ``UPDATE`` matched (the MySQL dialects connect with FOUND_ROWS)."""
    return int(cast("CursorResult[Any]", result).rowcount)
