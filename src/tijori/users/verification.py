"""E-mail verification and the sign-up limit: what keeps promotional money from being
farmed with throw-away accounts (issue 17; docs/security.md, "E-mail verification").

A new user is sent a 6-digit code (at sign-up, when verification is required, and on
asking). Users keeps only its HMAC under ``TIJORI_PIN_SECRET`` (a million codes are no
secret against a plain hash), when it expires (ten minutes) and the wrong tries at it
(five, then a new code is needed); a new code at most once a minute. The code itself
travels once, in ``user.email_code_issued``, to notifications, which e-mails it and never
shows it in the API. A verified user is announced as ``user.email_verified``: wallets
credits the promotion then, and the payment token, which every debit needs, is refused
to a user who is not (``TIJORI_REQUIRE_EMAIL_VERIFICATION``, on by default).

Sign-ups are counted per client address an hour (``TIJORI_SIGNUP_LIMIT_PER_HOUR``), the
address the log-in limit counts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import (
    ConflictError,
    NotFoundError,
    ProblemError,
    RateLimitedError,
    UnprocessableError,
)
from tijori.common.events import EmailCodeIssued, UserEmailVerified
from tijori.common.outbox import add_to_outbox
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage, User
from tijori.users.repository import UserRepository

log = logging.getLogger(__name__)

CODE_DIGITS = 6


class InvalidCodeError(UnprocessableError):
    """A wrong code; ``attempts_left`` more may be tried (none: ask for a new code)."""

    def __init__(self, attempts_left: int, detail: str = "the code is wrong") -> None:
        super().__init__(detail, code="invalid_code", attempts_left=attempts_left)


class CodeExpiredError(ProblemError):
    """No code can be checked: it expired, its tries were used up, or none was sent."""

    status, code = 410, "code_expired"


class EmailNotVerifiedError(ProblemError):
    """Paying needs a verified e-mail address."""

    status, code = 403, "email_not_verified"

    def __init__(self) -> None:
        super().__init__(
            "verify your e-mail address before paying: enter the code we e-mailed you "
            "(POST /api/users/me/email/verify)"
        )


def new_code() -> str:
    """A random 6-digit code, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(secret: bytes, *, user_id: str, code: str) -> str:
    """The keyed hash a code is kept as, bound to its user (and apart from PINs)."""
    return hmac.new(secret, f"email-code:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def stage_code(
    uow: UnitOfWork, *, settings: UsersSettings, secret: bytes, user: User, now: datetime
) -> None:
    """Give ``user`` a new code (the old one no longer works) and stage the event that
    e-mails it; the caller commits."""
    code = new_code()
    user.email_code_hash = code_digest(secret, user_id=user.id, code=code)
    user.email_code_expires_at = now + timedelta(seconds=settings.email_code_ttl_seconds)
    user.email_code_attempts = 0
    user.email_code_sent_at = now
    add_to_outbox(
        uow,
        OutboxMessage,
        EmailCodeIssued(
            user_id=user.id,
            name=user.name,
            email=user.email,
            code=code,
            expires_in_seconds=settings.email_code_ttl_seconds,
        ),
        key=user.id,
    )


async def request_code(
    uow: UnitOfWork, *, settings: UsersSettings, secret: bytes, user_id: str
) -> User:
    """E-mail the caller a new code: at most one a ``email_code_resend_seconds`` (429
    with ``Retry-After`` sooner), none once verified (409). The user's row is locked, so
    two requests at once send one code."""
    user = await UserRepository(uow).lock(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    if user.email_verified:
        raise ConflictError(
            "your e-mail address is verified already", code="email_already_verified"
        )
    now = utcnow()
    if user.email_code_sent_at is not None:
        wait = settings.email_code_resend_seconds - (now - user.email_code_sent_at).total_seconds()
        if wait > 0:
            seconds = max(int(wait + 0.999), 1)
            raise RateLimitedError(
                f"a code was sent moments ago; ask for another in {seconds} s",
                code="too_many_requests",
                headers={"Retry-After": str(seconds)},
            )
    stage_code(uow, settings=settings, secret=secret, user=user, now=now)
    await uow.session.flush()
    log.info("user %s asked for an e-mail verification code", user.id)
    return user


async def verify(
    uow: UnitOfWork, *, settings: UsersSettings, secret: bytes, user_id: str, code: str
) -> User:
    """Check the caller's code: right, the e-mail is verified and ``user.email_verified``
    staged; wrong, 422 with the tries left (the caller commits the count); expired, used
    up or never sent, 410. Verifying again answers the verified user. The row is locked:
    tries sent at once are counted one after another."""
    user = await UserRepository(uow).lock(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    if user.email_verified:
        return user
    now = utcnow()
    if (
        user.email_code_hash is None
        or user.email_code_expires_at is None
        or user.email_code_expires_at <= now
        or user.email_code_attempts >= settings.email_code_max_attempts
    ):
        raise CodeExpiredError("this code has expired or was used up: ask for a new one")
    left = settings.email_code_max_attempts - user.email_code_attempts
    candidate = code.strip()
    if len(candidate) != CODE_DIGITS or not (candidate.isascii() and candidate.isdigit()):
        raise InvalidCodeError(left, detail="a code is the 6 digits of the e-mail we sent")
    right = hmac.compare_digest(
        code_digest(secret, user_id=user.id, code=candidate), user.email_code_hash
    )
    if not right:
        user.email_code_attempts += 1
        await uow.session.flush()
        raise InvalidCodeError(left - 1)
    user.email_verified = True
    user.email_code_hash = None
    user.email_code_expires_at = None
    await uow.session.flush()
    add_to_outbox(
        uow,
        OutboxMessage,
        UserEmailVerified(user_id=user.id, name=user.name, email=user.email, phone=user.phone),
        key=user.id,
    )
    log.info("user %s verified their e-mail address", user.id)
    return user


class SignupLimiter:
    """Counts sign-ups per client address in the cache, in fixed windows of an hour (one
    ``INCR``; a burst across a window's end may see up to twice the limit, which still
    bounds what farming gains). Past the limit: 429 ``too_many_requests`` until the
    window ends. Like the log-in limit it lets sign-ups through when the cache is down:
    verification still guards the promotion."""

    WINDOW_SECONDS = 3600

    def __init__(self, cache: Cache, settings: UsersSettings) -> None:
        self.cache = cache
        self.limit = settings.signup_limit_per_hour

    async def take(self, client_ip: str, *, now: datetime | None = None) -> None:
        """Count one sign-up from ``client_ip``; refuse it past the limit."""
        if self.limit == 0:
            return
        moment = int((now or utcnow()).timestamp())
        window = moment // self.WINDOW_SECONDS
        key = f"tijori:signups:ip:{client_ip}:{window}"
        try:
            count = await self.cache.incr(key, ttl_seconds=self.WINDOW_SECONDS)
        except CacheUnavailableError:
            log.warning("sign-up limit skipped: cache unavailable")
            return
        if count > self.limit:
            retry_after = (window + 1) * self.WINDOW_SECONDS - moment
            raise RateLimitedError(
                "too many sign-ups from this network; try again later",
                code="too_many_requests",
                headers={"Retry-After": str(max(retry_after, 1))},
            )
