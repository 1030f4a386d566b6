"""The transaction PIN: which PINs are allowed, how they are kept, how guessing is stopped.

A six-digit PIN has a million values, so no slow hash could protect a stolen table:
it is kept as an HMAC-SHA256 with a secret held apart from the database
(``TIJORI_PIN_SECRET``; PRODUCT.md, "Transaction PIN"), and guessing is stopped by the
attempt limit: ``pin_max_failures`` wrong PINs in a row lock payments for
``pin_lock_seconds``, per user across devices (docs/architecture.md, "Users and
security"), counted on the user's row (:class:`Strikes`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

from tijori.common.auth import TokenKeys
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
    """A wrong PIN, with the tries left (none: it was the last, and payments lock)."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__("the PIN is wrong", code="invalid_pin", attempts_left=attempts_left)


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
    """Units of work that write (a wrong PIN's count, the lock's e-mail)."""
    keys: TokenKeys
    settings: UsersSettings
    secret: bytes


LOCKED = -1
"""What :func:`strike` answers once the limit of wrong PINs is reached."""


@dataclass(frozen=True)
class Strikes:
    """A user's wrong PINs in a row (``users.pin_failures``) and the time they stop
    counting (``pin_failures_until``): the attempt limit's state, on the user's row.

    It was a counter in Redis; the cache is never a source of truth, and a restart,
    flush or eviction there lifted the lock (migration 0006)."""

    count: int = 0
    until: datetime | None = None

    def live(self, now: datetime) -> int:
        """The wrong PINs that still count at ``now``."""
        return self.count if self.until is not None and self.until > now else 0


def strike(
    strikes: Strikes, *, right: bool, now: datetime, limit: int, lock_seconds: int
) -> tuple[Strikes, int]:
    """One try of the PIN, counted: the strikes after it, and the tries still allowed
    (:data:`LOCKED` once the limit was reached: then nothing changes, and a right PIN
    does not unlock). A wrong PIN adds one: the first starts the count's
    ``lock_seconds``, and the one that reaches the limit locks for ``lock_seconds`` from
    then. A right one clears the count."""
    live = strikes.live(now)
    if live >= limit:
        return strikes, LOCKED
    if right:
        return Strikes(), limit
    count = live + 1
    fresh = live == 0 or count >= limit
    until = now + timedelta(seconds=lock_seconds) if fresh else strikes.until
    return Strikes(count=count, until=until), limit - count


def refuse_locked(settings: UsersSettings) -> NoReturn:
    """423 ``pin_locked``: payments are locked, whatever the PIN."""
    PIN_CHECKS.labels(outcome="refused").inc()
    raise PinLockedError(
        "too many wrong PINs: payments are locked for a while",
        headers={"Retry-After": str(settings.pin_lock_seconds)},
    )


def judge(settings: UsersSettings, *, right: bool, left: int, user_id: str) -> None:
    """Answer a try :func:`strike` counted: refuse a wrong PIN with 401 (the tries left;
    :class:`WrongPinError`; none left when it was the last), and any PIN with 423 while
    payments are locked."""
    if left == LOCKED:
        refuse_locked(settings)
    if not right:
        PIN_CHECKS.labels(outcome="locked" if left == 0 else "wrong").inc()
        if left == 0:
            log.warning(
                "payments locked after %d wrong PINs (user %s)", settings.pin_max_failures, user_id
            )
        raise WrongPinError(left)
    PIN_CHECKS.labels(outcome="right").inc()
