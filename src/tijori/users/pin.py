"""The transaction PIN: which PINs are allowed, how they are kept, how guessing is stopped.

A six-digit PIN has a million values, so no slow hash could protect a stolen table:
it is kept as an HMAC-SHA256 with a secret held apart from the database
(``TIJORI_PIN_SECRET``; PRODUCT.md, "Transaction PIN"), and guessing is stopped by the
attempt limit: ``pin_max_failures`` wrong PINs in a row lock payments for
``pin_lock_seconds``, per user across devices (docs/architecture.md, "Users and
security").
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tijori.common.auth import TokenKeys
from tijori.common.cache import LOCKED, Cache, CacheUnavailableError
from tijori.common.db import UnitOfWork
from tijori.common.db.driver import DriverRead
from tijori.common.errors import (
    ProblemError,
    UnauthorizedError,
    UnprocessableError,
)
from tijori.common.metrics import PIN_CHECKS
from tijori.users.config import UsersSettings

log = logging.getLogger(__name__)

PIN_LENGTHS = (4, 6)


class PinLockedError(ProblemError):
    """Payments are locked after too many wrong PINs."""

    status, code = 423, "pin_locked"


class WrongPinError(UnauthorizedError):
    """A wrong PIN; ``locked`` when it was the last try before payments lock."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__("the PIN is wrong", code="invalid_pin", attempts_left=attempts_left)
        self.locked = attempts_left == 0


class PinUnavailableError(ProblemError):
    """The attempt counter cannot be read: no PIN is checked without it."""

    status, code = 503, "service_unavailable"


def check_strength(pin: str) -> None:
    """Refuse a PIN that is not 4 or 6 ASCII digits, or that is easily guessed: one
    digit repeated (``0000``) or a run up or down (``1234``, ``987654``)."""
    if len(pin) not in PIN_LENGTHS or not (pin.isascii() and pin.isdigit()):
        raise UnprocessableError("a PIN is 4 or 6 digits", code="weak_pin")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise UnprocessableError(
            "this PIN is too easy to guess: no repeated digit or run like 1234",
            code="weak_pin",
        )


def load_secret(settings: UsersSettings) -> bytes:
    """The PIN secret: from ``TIJORI_PIN_SECRET``, else (development) one generated once
    under the data directory, readable by its owner alone."""
    if settings.pin_secret is not None:
        return settings.pin_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / "keys" / "pin-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(os.urandom(32).hex().encode())
        try:
            os.link(staging, path)  # atomic: fails if another process won
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_bytes().strip()


def digest(secret: bytes, *, user_id: str, pin: str) -> str:
    """The keyed hash a PIN is kept as; bound to its user, so equal PINs differ."""
    return hmac.new(secret, f"{user_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def matches(secret: bytes, *, user_id: str, pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN kept as ``stored`` (compared in constant time)."""
    return hmac.compare_digest(digest(secret, user_id=user_id, pin=pin), stored)


@dataclass(frozen=True)
class PinDesk:
    """What a payment's PIN check needs, built once at start-up and taken by its route
    as one dependency (each FastAPI dependency costs on every request: the route runs
    once per payment)."""

    check: DriverRead
    """The PIN's one read (``repository.PAYMENT_CHECK``), outside a transaction."""
    units: Callable[[], UnitOfWork]
    """Units of work that write (the lock's e-mail)."""
    cache: Cache
    keys: TokenKeys
    settings: UsersSettings
    secret: bytes


class PinGuard:
    """Counts wrong PINs per user in the cache: ``limit`` in a row lock payments.

    The PIN is compared first (an HMAC: microseconds, no network), then its outcome is
    counted in one atomic step (:meth:`Cache.strike`, one Redis round trip) that also
    decides the answer: concurrent guesses cannot slip under the limit, since each
    wrong one is counted and judged in the same step, and right PINs sent at once (a
    phone and a browser, a burst of payments) only clear the count, so they are never
    taken for a lock. Once locked, even the right PIN is refused. Unlike the log-in
    limit it fails closed: without the counter no PIN is accepted.
    """

    def __init__(self, cache: Cache, settings: UsersSettings, *, user_id: str) -> None:
        self.cache = cache
        self.limit = settings.pin_max_failures
        self.lock_seconds = settings.pin_lock_seconds
        self.key = f"tijori:pin-failures:{user_id}"

    async def check(self, *, right: bool) -> None:
        """Count a PIN that was ``right`` or wrong; refuse a wrong one with 401 (the
        tries left; :class:`WrongPinError` ``locked`` when it was the last), and any
        PIN with 423 while payments are locked."""
        try:
            left = await self.cache.strike(
                self.key, failed=not right, limit=self.limit, ttl_seconds=self.lock_seconds
            )
        except CacheUnavailableError as error:
            log.warning("PIN not checked: cache unavailable")
            raise PinUnavailableError("PINs cannot be checked right now; try again") from error
        if left == LOCKED:
            PIN_CHECKS.labels(outcome="refused").inc()
            raise PinLockedError(
                "too many wrong PINs: payments are locked for a while",
                headers={"Retry-After": str(self.lock_seconds)},
            )
        if not right:
            PIN_CHECKS.labels(outcome="locked" if left == 0 else "wrong").inc()
            if left == 0:
                log.warning("payments locked after %d wrong PINs (%s)", self.limit, self.key)
            raise WrongPinError(left)
        PIN_CHECKS.labels(outcome="right").inc()
