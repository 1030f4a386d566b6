"""Log-in sessions: refresh tokens that rotate, reuse that ends a session, and ending
sessions on purpose (docs/architecture.md, "Sessions").

A log-in starts a session and hands out its first refresh token: 256 random bits, kept
only as their SHA-256. ``POST /api/auth/refresh`` exchanges it for the next one in the
same session and marks it used; presenting a used one again means two parties hold
the session's tokens, so the whole session ends (OAuth 2.0 Security BCP, RFC 9700
section 4.14.2). A session ends too on log-out, from another session, when the
password changes, after ``session_idle_seconds`` without a refresh and
``refresh_token_ttl_seconds`` after its log-in however often it was refreshed.

Access tokens name their session (``sid``) but are verified from the public key alone
by every service: users refuses an ended session's token on its session routes at once,
the other services when it expires, at most ``jwt_ttl_seconds`` later.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tijori.common.auth import Principal
from tijori.common.clock import stop_if_cancelled, utcnow
from tijori.common.db import UnitOfWork, retry_transient
from tijori.common.errors import NotFoundError, UnauthorizedError
from tijori.common.metrics import (
    REFRESH_TOKEN_REUSE,
    SESSIONS_ENDED,
    SESSIONS_STARTED,
    count_after_commit,
)
from tijori.users.config import UsersSettings
from tijori.users.devices import describe_device
from tijori.users.models import UserSession
from tijori.users.repository import SessionRepository

if TYPE_CHECKING:
    from tijori.common.app import ServiceRuntime

log = logging.getLogger(__name__)

REFRESH_TOKEN_BYTES = 32
MAX_SESSION_ID_LENGTH = 36
# sessions deleted in one transaction, and how often the purge looks for more
PURGE_BATCH = 500
PURGE_INTERVAL_SECONDS = 3600


class InvalidRefreshTokenError(UnauthorizedError):
    """A refresh token that is unknown, used, or of a session that has ended."""

    def __init__(self, detail: str = "the refresh token is not valid: log in again") -> None:
        super().__init__(detail, code="invalid_refresh_token")


class RefreshTokenReusedError(InvalidRefreshTokenError):
    """A used refresh token presented again: its session has been ended (the route
    commits that, although the request fails)."""

    def __init__(self) -> None:
        super().__init__("this refresh token was used before: its session has ended, log in again")


class SessionEndedError(UnauthorizedError):
    """An access token of a session that has ended."""

    def __init__(self) -> None:
        super().__init__("this session has ended: log in again", code="session_ended")


@dataclass(frozen=True)
class Refreshed:
    """A session that a refresh token has just been exchanged in, and the next token."""

    user_id: str
    session_id: str
    refresh_token: str


def token_hash(refresh_token: str) -> str:
    """How a refresh token is stored and looked up."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def new_refresh_token() -> str:
    """A fresh refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def is_open(user_session: UserSession, *, now: datetime, settings: UsersSettings) -> bool:
    """Whether the session has not ended, expired nor been idle too long."""
    return times_open(
        (user_session.ended_at, user_session.expires_at, user_session.last_used_at),
        now=now,
        settings=settings,
    )


def times_open(
    times: tuple[datetime | None, datetime, datetime], *, now: datetime, settings: UsersSettings
) -> bool:
    """:func:`is_open` from a session's ended, expiry and last-used times alone."""
    ended_at, expires_at, last_used_at = times
    idle = timedelta(seconds=settings.session_idle_seconds)
    return ended_at is None and now < expires_at and now - last_used_at < idle


async def start(
    uow: UnitOfWork, *, user_id: str, user_agent: str | None, settings: UsersSettings
) -> Refreshed:
    """Start a session for ``user_id`` on the device ``user_agent`` names (the caller
    commits); its first refresh token."""
    now = utcnow()
    user_session = UserSession(
        user_id=user_id,
        device=describe_device(user_agent),
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    refresh_token = new_refresh_token()
    await SessionRepository(uow).start(user_session, token_hash=token_hash(refresh_token))
    count_after_commit(uow, SESSIONS_STARTED)
    return Refreshed(user_id=user_id, session_id=user_session.id, refresh_token=refresh_token)


async def refresh(uow: UnitOfWork, *, refresh_token: str, settings: UsersSettings) -> Refreshed:
    """Exchange ``refresh_token`` for the next one of its session (the caller commits).

    Raises :class:`InvalidRefreshTokenError` for a token never given out or of a
    session that has ended, and :class:`RefreshTokenReusedError`, having ended the
    session, for one used before."""
    repository = SessionRepository(uow)
    used_hash = token_hash(refresh_token)
    stored = await repository.refresh_token(used_hash)
    if stored is None:
        raise InvalidRefreshTokenError()
    user_session = await repository.get(stored.session_id)
    now = utcnow()
    if user_session is None or not is_open(user_session, now=now, settings=settings):
        raise InvalidRefreshTokenError("the session has ended: log in again")
    next_token = new_refresh_token()
    rotated = await repository.rotate(
        session_id=user_session.id, used_hash=used_hash, new_hash=token_hash(next_token), now=now
    )
    if not rotated:
        await _end(
            uow, user_session.user_id, reason="refresh_token_reused", session_id=user_session.id
        )
        count_after_commit(uow, REFRESH_TOKEN_REUSE)
        log.warning(
            "a used refresh token of session %s was presented again: the session is ended",
            user_session.id,
        )
        raise RefreshTokenReusedError()
    return Refreshed(
        user_id=user_session.user_id, session_id=user_session.id, refresh_token=next_token
    )


async def current(
    uow: UnitOfWork, *, principal: Principal, settings: UsersSettings
) -> UserSession | None:
    """The open session the caller's access token belongs to (None for a token that
    names none); :class:`SessionEndedError` when it has ended."""
    if principal.session_id is None:
        return None
    user_session = await SessionRepository(uow).get(principal.session_id)
    if (
        user_session is None
        or user_session.user_id != principal.user_id
        or not is_open(user_session, now=utcnow(), settings=settings)
    ):
        raise SessionEndedError()
    return user_session


async def open_sessions(
    uow: UnitOfWork, *, user_id: str, settings: UsersSettings
) -> list[UserSession]:
    """``user_id``'s open sessions, the most recently used first."""
    now = utcnow()
    return await SessionRepository(uow).open_sessions(
        user_id, now=now, idle_since=now - timedelta(seconds=settings.session_idle_seconds)
    )


async def end_one(
    uow: UnitOfWork, *, user_id: str, session_id: str, current_session_id: str | None
) -> None:
    """End ``user_id``'s open session ``session_id`` (the caller commits): a log-out
    when it is the caller's own; 404 when there is no such session of theirs."""
    reason = "logout" if session_id == current_session_id else "ended"
    if len(session_id) > MAX_SESSION_ID_LENGTH or not await _end(
        uow, user_id, reason=reason, session_id=session_id
    ):
        raise NotFoundError("no such session", code="session_not_found")


async def end_others(uow: UnitOfWork, *, user_id: str, keep: str | None, reason: str) -> int:
    """End every session of ``user_id``'s but ``keep`` (the caller commits); how many."""
    return await _end(uow, user_id, reason=reason, keep=keep)


async def _end(
    uow: UnitOfWork,
    user_id: str,
    *,
    reason: str,
    session_id: str | None = None,
    keep: str | None = None,
) -> int:
    ended = await SessionRepository(uow).end(
        user_id, reason=reason, now=utcnow(), session_id=session_id, keep=keep
    )
    if ended:
        count_after_commit(uow, SESSIONS_ENDED.labels(reason=reason), ended)
        log.info("%d session(s) of user %s ended: %s", ended, user_id, reason)
    return ended


async def purge_expired(uow: UnitOfWork, *, settings: UsersSettings, now: datetime) -> int:
    """Delete up to :data:`PURGE_BATCH` of the sessions that expired more than
    ``session_retention_seconds`` before ``now``, with their refresh tokens (the caller
    commits); how many sessions.

    Every session expires ``refresh_token_ttl_seconds`` after its log-in, however it
    ended, so each goes by then plus the retention, and the refresh tokens it kept (one
    per refresh) with it. No request needs them by then: a token naming a deleted
    session is refused as one of an ended session is."""
    if not settings.session_retention_seconds:
        return 0
    before = now - timedelta(seconds=settings.session_retention_seconds)
    return await SessionRepository(uow).delete_expired(before, limit=PURGE_BATCH)


def register_purge_loop(runtime: ServiceRuntime, settings: UsersSettings) -> None:
    """Add the loop that purges expired sessions: at start, then hourly (each second
    while whole batches go)."""

    async def purge_sessions() -> None:
        async def once() -> int:
            async with runtime.unit_of_work() as uow:
                purged = await purge_expired(uow, settings=settings, now=utcnow())
                await uow.commit()
            return purged

        while True:
            purged = await retry_transient(once, what="session purge")
            if purged:
                log.info("deleted %d expired session(s) and their refresh tokens", purged)
            stop_if_cancelled()  # nothing wakes it early: it only waits (tijori.common.clock)
            # a whole batch: there may be more, after a breath for the database
            await asyncio.sleep(1 if purged == PURGE_BATCH else PURGE_INTERVAL_SECONDS)

    runtime.workers.append(purge_sessions)
