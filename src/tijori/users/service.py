"""Business rules of the users service: sign-up, log-in, reading and changing a user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from datetime import timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError

from tijori.common.auth import Principal, TokenKeys
from tijori.common.cache import Cache, CacheUnavailableError, cache_aside
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork
from tijori.common.errors import (
    ConflictError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnprocessableError,
)
from tijori.common.events import PinLocked, UserCreated
from tijori.common.outbox import add_to_outbox
from tijori.common.phone import (
    InvalidPhoneError,
    looks_like_email,
    normalize_email,
    normalize_handle,
    normalize_phone,
)
from tijori.users import pin, sessions, verification
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage, User
from tijori.users.passwords import check_not_own
from tijori.users.repository import UserRepository, payment_check
from tijori.users.schemas import (
    PasswordChange,
    PaymentTokenRequest,
    PaymentTokenResponse,
    PinChange,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)

log = logging.getLogger(__name__)

password_hash = PasswordHash((Argon2Hasher(),))
# verified when the user does not exist, so an unknown name costs as long as a wrong password
_DUMMY_HASH = password_hash.hash("tijori-timing-equaliser")


def user_cache_key(user_id: str) -> str:
    """Where a user's public view is cached."""
    return f"tijori:user:{user_id}"


async def sign_up(
    uow: UnitOfWork,
    *,
    data: UserCreate,
    settings: UsersSettings,
    secret: bytes,
    correlation_id: str | None = None,
) -> User:
    """Create a user and stage ``user.created`` in the same transaction; the unique
    normalised e-mail and phone, not a prior read, refuse a second account (409).

    With verification required the first code is staged in the same transaction (its
    e-mail follows the welcome one), and ``user.created`` says that the promotion waits
    for ``user.email_verified``; without, no code is sent unless asked for."""
    user = User(
        name=data.name,
        email=data.email,
        email_normalized=normalize_email(data.email),
        phone=data.phone,
        password_hash=await asyncio.to_thread(password_hash.hash, data.password),
        authority="USER",
        email_verified=False,
        email_code_attempts=0,
    )
    try:
        await UserRepository(uow).add(user)
    except IntegrityError as error:
        await uow.rollback()
        raise _taken(error) from error
    required = settings.require_email_verification
    add_to_outbox(
        uow,
        OutboxMessage,
        UserCreated(
            user_id=user.id,
            name=user.name,
            email=user.email,
            phone=user.phone,
            verification_required=required,
        ),
        key=user.id,
        correlation_id=correlation_id,
    )
    if required:
        verification.stage_code(uow, settings=settings, secret=secret, user=user, now=utcnow())
        await uow.session.flush()
    return user


def _taken(error: IntegrityError) -> Exception:
    """The conflict a unique key of ``users`` reports, or the error itself."""
    message = str(error.orig)
    if "uq_users_email" in message or "users.email" in message:
        return ConflictError("an account with this e-mail already exists", code="email_taken")
    if "uq_users_phone" in message or "users.phone" in message:
        return ConflictError("an account with this phone already exists", code="phone_taken")
    return error


async def load_by_username(uow: UnitOfWork, username: str) -> User | None:
    """The user whose e-mail or phone is ``username``."""
    repository = UserRepository(uow)
    text = username.strip()
    if looks_like_email(text):
        return await repository.get_by_email(normalize_email(text))
    try:
        return await repository.get_by_phone(normalize_phone(text))
    except InvalidPhoneError:
        return None


class LoginLimiter:
    """Limits password tries per account and per client address, in the cache.

    A try against an account is counted (one atomic ``INCR``) *before* the password is
    checked, under the account's id when the username names one (however it was
    spelled: ``+91 79454…``, ``07945…``, full-width digits or another case all resolve
    to one account) and under the normalised username when it names none. So concurrent
    guesses cannot all pass under the limit: past ``login_max_failures`` in the window
    every try is 429 and no password is checked; a right password clears the count.
    Failures are also counted per address (after the check: a right password costs
    the address nothing), which stops one client trying many accounts.

    When the cache is down it lets attempts through (and says so in the log): the
    passwords stay Argon2id-hashed, and the wallet stays usable.
    """

    def __init__(
        self,
        cache: Cache,
        settings: UsersSettings,
        *,
        account_key: str,
        address_key: str | None,
    ) -> None:
        self.cache = cache
        self.window = settings.login_window_seconds
        self.account = (account_key, settings.login_max_failures)
        self.address = (
            None if address_key is None else (address_key, settings.login_max_failures_per_ip)
        )

    @classmethod
    def for_log_in(
        cls,
        cache: Cache,
        settings: UsersSettings,
        *,
        user: User | None,
        username: str,
        client_ip: str,
    ) -> LoginLimiter:
        """The limits of a log-in as ``username`` (resolved to ``user``, if any)."""
        account = f"user:{user.id}" if user is not None else f"unknown:{_username_key(username)}"
        return cls(
            cache,
            settings,
            account_key=f"tijori:login-failures:{account}",
            address_key=f"tijori:login-failures:ip:{client_ip}",
        )

    @classmethod
    def for_password_change(
        cls, cache: Cache, settings: UsersSettings, *, user_id: str
    ) -> LoginLimiter:
        """Wrong current passwords of a password change, per user and as many as wrong
        log-ins: a stolen access token is no way round the log-in limit. Not per address,
        so that they never lock others behind it out of logging in."""
        return cls(
            cache,
            settings,
            account_key=f"tijori:password-failures:user:{user_id}",
            address_key=None,
        )

    def _refuse(self) -> RateLimitedError:
        return RateLimitedError(
            "too many failed log-in attempts; try again later",
            code="too_many_attempts",
            headers={"Retry-After": str(self.window)},
        )

    async def take_try(self) -> None:
        """Count this try against the account (and check the address); refuse with 429
        when either is past its limit. Call before the password is checked."""
        try:
            if self.address is not None:
                key, limit = self.address
                if int(await self.cache.get(key) or 0) >= limit:
                    raise self._refuse()
            key, limit = self.account
            if await self.cache.incr(key, ttl_seconds=self.window) > limit:
                raise self._refuse()
        except CacheUnavailableError:
            log.warning("log-in rate limit skipped: cache unavailable")

    async def failed(self) -> None:
        """A wrong password: it stays counted against the account; count the address."""
        if self.address is None:
            return
        try:
            await self.cache.incr(self.address[0], ttl_seconds=self.window)
        except CacheUnavailableError:
            log.warning("log-in failure not counted: cache unavailable")

    async def succeeded(self) -> None:
        """A right password: the account's tries before it no longer count."""
        try:
            await self.cache.delete(self.account[0])
        except CacheUnavailableError:
            pass


def _username_key(username: str) -> str:
    """A username that names no account, normalised as a lookup would normalise it, so
    that its spellings share one count (NFKC folds full-width digits and letters)."""
    text = unicodedata.normalize("NFKC", username).strip()
    if looks_like_email(text):
        return text.casefold()
    try:
        return normalize_phone(text)
    except InvalidPhoneError:
        return text.casefold()


async def log_in(
    uow: UnitOfWork,
    *,
    cache: Cache,
    keys: TokenKeys,
    settings: UsersSettings,
    username: str,
    password: str,
    client_ip: str,
    user_agent: str | None = None,
) -> TokenResponse:
    """Check the password, start a session on the device ``user_agent`` names and issue
    its tokens (the caller commits); too many failures answer 429 for a while."""
    user = await load_by_username(uow, username)
    limiter = LoginLimiter.for_log_in(
        cache, settings, user=user, username=username, client_ip=client_ip
    )
    await limiter.take_try()
    # Argon2 is CPU-bound: hash off the event loop
    valid = await asyncio.to_thread(
        password_hash.verify, password, user.password_hash if user else _DUMMY_HASH
    )
    if user is None or not valid:
        await limiter.failed()
        raise UnauthorizedError("the username or password is wrong", code="invalid_credentials")
    await limiter.succeeded()
    started = await sessions.start(uow, user_id=user.id, user_agent=user_agent, settings=settings)
    return _tokens(keys, settings, user, started)


async def refresh(
    uow: UnitOfWork, *, keys: TokenKeys, settings: UsersSettings, refresh_token: str
) -> TokenResponse:
    """Rotate a refresh token and issue a new access token in its session (the caller
    commits, also when :class:`~tijori.users.sessions.RefreshTokenReusedError` ended it)."""
    refreshed = await sessions.refresh(uow, refresh_token=refresh_token, settings=settings)
    user = await UserRepository(uow).get(refreshed.user_id)
    if user is None:
        raise sessions.InvalidRefreshTokenError()
    return _tokens(keys, settings, user, refreshed)


def _tokens(
    keys: TokenKeys, settings: UsersSettings, user: User, refreshed: sessions.Refreshed
) -> TokenResponse:
    """An access token for ``user`` in the session, and the session's next refresh token."""
    token = keys.issue(
        user_id=user.id,
        authority="ADMIN" if user.authority == "ADMIN" else "USER",
        ttl=timedelta(seconds=settings.jwt_ttl_seconds),
        session_id=refreshed.session_id,
    )
    return TokenResponse(
        access_token=token,
        expires_in=settings.jwt_ttl_seconds,
        refresh_token=refreshed.refresh_token,
        session_id=refreshed.session_id,
    )


async def change_password(
    uow: UnitOfWork,
    *,
    cache: Cache,
    settings: UsersSettings,
    user_id: str,
    change: PasswordChange,
    current_session_id: str | None,
) -> None:
    """Change the caller's password, proven with the current one (wrong ones are limited
    as log-ins are), and end every other session of theirs (the caller commits)."""
    user = await UserRepository(uow).get(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    try:
        check_not_own(change.password, email=user.email, phone=user.phone)
    except PydanticCustomError as weak:
        raise UnprocessableError(weak.message(), code="weak_password") from None
    limiter = LoginLimiter.for_password_change(cache, settings, user_id=user.id)
    await limiter.take_try()
    valid = await asyncio.to_thread(
        password_hash.verify, change.current_password, user.password_hash
    )
    if not valid:
        await limiter.failed()
        raise UnauthorizedError("the current password is wrong", code="invalid_credentials")
    await limiter.succeeded()
    user.password_hash = await asyncio.to_thread(password_hash.hash, change.password)
    await uow.session.flush()
    await sessions.end_others(
        uow, user_id=user.id, keep=current_session_id, reason="password_changed"
    )
    log.info("user %s changed their password", user.id)


async def check_password(
    uow: UnitOfWork, *, cache: Cache, settings: UsersSettings, user_id: str, password: str
) -> None:
    """Refuse (401 ``invalid_credentials``) a password that is not the caller's. Wrong
    ones count with those of a password change, as many as log-ins allow (429 after
    them), so a stolen access token makes no password oracle of this check."""
    user = await UserRepository(uow).get(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    limiter = LoginLimiter.for_password_change(cache, settings, user_id=user.id)
    await limiter.take_try()
    if not await asyncio.to_thread(password_hash.verify, password, user.password_hash):
        await limiter.failed()
        raise UnauthorizedError("the password is wrong", code="invalid_credentials")
    await limiter.succeeded()


async def get_user(
    uow: UnitOfWork,
    *,
    cache: Cache,
    user_id: str,
    ttl_seconds: int,
    known_authority: str | None = None,
) -> UserRead:
    """A user's public view, cache-aside: Redis first, else the database, then cached.

    ``known_authority`` is what the caller's own token says: a token issued after the
    cached copy (an authority granted by an operator) proves the copy stale.
    """
    key = user_cache_key(user_id)

    async def load() -> bytes | None:
        user = await UserRepository(uow).get(user_id)
        return None if user is None else UserRead.model_validate(user).model_dump_json().encode()

    cached = await cache_aside(cache, key, load, ttl_seconds=ttl_seconds)
    if cached is None:
        raise NotFoundError("no such user", code="user_not_found")
    view = UserRead.model_validate_json(cached)
    if known_authority is not None and view.authority != known_authority:
        with contextlib.suppress(CacheUnavailableError):
            await cache.delete(key)
        fresh = await load()
        if fresh is None:
            raise NotFoundError("no such user", code="user_not_found")
        view = UserRead.model_validate_json(fresh)
    return view


async def update_user(uow: UnitOfWork, *, user_id: str, data: UserUpdate) -> User:
    """Change what a user may change about themselves (the caller commits, then invalidates)."""
    user = await UserRepository(uow).get(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    user.name = data.name
    await uow.session.flush()
    return user


async def set_pin(
    uow: UnitOfWork,
    *,
    settings: UsersSettings,
    secret: bytes,
    user_id: str,
    change: PinChange,
) -> None:
    """Set or change the caller's transaction PIN (the caller commits).

    The first PIN needs nothing more; a new one needs the current PIN (counted against
    the attempt limit) or the password (when the PIN is forgotten)."""
    pin.check_strength(change.pin)
    user = await UserRepository(uow).get(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    if user.pin_hash is not None:
        if change.current_pin is not None:
            right = pin.matches(
                secret, user_id=user.id, pin=change.current_pin, stored=user.pin_hash
            )
            await _count_pin(uow, settings, user_id=user.id, right=right)
        elif change.password is not None:
            valid = await asyncio.to_thread(
                password_hash.verify, change.password, user.password_hash
            )
            if not valid:
                raise UnauthorizedError("the password is wrong", code="invalid_credentials")
        else:
            raise UnprocessableError(
                "a PIN is set: send the current_pin, or the password if it is forgotten",
                code="current_pin_required",
            )
    user.pin_hash = pin.digest(secret, user_id=user.id, pin=change.pin)
    await uow.session.flush()
    log.info("user %s set a transaction PIN", user.id)


async def issue_payment_token(
    desk: pin.PinDesk, *, principal: Principal, request: PaymentTokenRequest
) -> PaymentTokenResponse:
    """Check the PIN and sign a short-lived token for exactly this one debit.

    The hot path of every payment: one read outside a transaction (the PIN hash, the
    wrong PINs counted, and the caller's session, which must still be open), and no
    more for a right PIN with none counted; a transaction is opened only to count a
    wrong PIN (and e-mail the lock with the last), or to clear the count of earlier ones."""
    receiver = normalize_handle(request.receiver) if request.receiver is not None else None
    settings = desk.settings
    user_id = principal.user_id
    check = await payment_check(desk.check, user_id, principal.session_id)
    if check is None:
        raise NotFoundError("no such user", code="user_not_found")
    now = utcnow()
    if principal.session_id is not None and (
        check.session_times is None
        or not sessions.times_open(check.session_times, now=now, settings=settings)
    ):
        raise sessions.SessionEndedError()  # no payment from a session that was ended
    if settings.require_email_verification and not check.email_verified:
        raise verification.EmailNotVerifiedError()  # before the PIN: no try is counted
    if check.pin_hash is None:
        raise ConflictError("set a transaction PIN first", code="pin_not_set")
    counted = check.strikes.live(now)
    if counted >= settings.pin_max_failures:
        pin.refuse_locked(settings)  # locked: no PIN is looked at
    right = pin.matches(desk.secret, user_id=user_id, pin=request.pin, stored=check.pin_hash)
    if right and counted == 0:
        pin.judge(settings, right=True, left=settings.pin_max_failures, user_id=user_id)
    else:  # a wrong PIN to count, or a right one to clear the count with
        async with desk.units() as uow:
            try:
                await _count_pin(uow, settings, user_id=user_id, right=right)
            except pin.WrongPinError:
                await uow.commit()  # the count, and the lock's e-mail with the last
                raise
            await uow.commit()
    token = desk.keys.issue_payment(
        user_id=user_id,
        amount_paise=request.amount,
        receiver=receiver,
        idempotency_key=request.idempotency_key,
        ttl=timedelta(seconds=settings.payment_token_ttl_seconds),
    )
    return PaymentTokenResponse(payment_token=token, expires_in=settings.payment_token_ttl_seconds)


async def _count_pin(
    uow: UnitOfWork, settings: UsersSettings, *, user_id: str, right: bool
) -> None:
    """Count a PIN that was ``right`` or wrong on the user's row, locked for it, so that
    concurrent guesses from any device are counted one after another and none slips
    under the limit; refuse a wrong one with 401 (the tries left) and any PIN with 423
    while payments are locked. The wrong PIN that locks stages the e-mail saying so, in
    ``uow``, which the caller commits, also when this raises ``WrongPinError``."""
    user = await UserRepository(uow).lock(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    strikes, left = pin.strike(
        pin.Strikes(count=user.pin_failures, until=user.pin_failures_until),
        right=right,
        now=utcnow(),
        limit=settings.pin_max_failures,
        lock_seconds=settings.pin_lock_seconds,
    )
    if left != pin.LOCKED:
        user.pin_failures, user.pin_failures_until = strikes.count, strikes.until
        await uow.session.flush()
    if left == 0:
        await _stage_lock_mail(uow, settings, user_id=user_id)
    pin.judge(settings, right=right, left=left, user_id=user_id)


async def _stage_lock_mail(uow: UnitOfWork, settings: UsersSettings, *, user_id: str) -> None:
    """Stage ``pin.locked``, which e-mails the user that payments are locked."""
    user = await UserRepository(uow).get(user_id)
    if user is None:
        return
    add_to_outbox(
        uow,
        OutboxMessage,
        PinLocked(
            user_id=user.id,
            name=user.name,
            email=user.email,
            locked_seconds=settings.pin_lock_seconds,
        ),
        key=user.id,
    )
