"""The transaction PIN: which PINs are allowed, how they are kept, how guessing is stopped.

A six-digit PIN has a million values, so no slow hash could protect a stolen table:
it is kept as an HMAC-SHA256 with a secret held apart from the database
(``TIJORI_PIN_SECRET``; PRODUCT.md, "Transaction PIN"), and guessing is stopped by the
attempt limit: ``pin_max_failures`` wrong PINs in a row lock payments for
``pin_lock_seconds``, per user across devices (docs/architecture.md, "Users and
security").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import os
import time
from pathlib import Path

from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.errors import (
    ProblemError,
    RateLimitedError,
    UnauthorizedError,
    UnprocessableError,
)
from tijori.users.config import UsersSettings

log = logging.getLogger(__name__)

PIN_LENGTHS = (4, 6)
# what a lock sets the counter to: far above any count that checks in flight reach
LOCKED = 1_000_000
# how long a check waits for others of the same user in flight, and how often it looks
CONTENDED_WAIT_SECONDS = 2.0
CONTENDED_POLL_SECONDS = 0.02


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


class PinGuard:
    """Counts wrong PINs per user in the cache, before each PIN is checked.

    The counter is taken (one atomic ``INCR``) before the PIN is compared, so concurrent
    guesses cannot all slip under the limit; a right PIN clears it. A count past the
    limit is then either the lock (the last wrong PIN set the counter to
    :data:`LOCKED`) or checks of the same user still in flight: those wait for them
    (milliseconds), so right PINs sent at once (a phone and a browser, or a burst of
    payments) are never taken for a lock. Unlike the log-in limit it fails closed:
    without the counter no PIN is checked.
    """

    def __init__(self, cache: Cache, settings: UsersSettings, *, user_id: str) -> None:
        self.cache = cache
        self.limit = settings.pin_max_failures
        self.lock_seconds = settings.pin_lock_seconds
        self.key = f"tijori:pin-failures:{user_id}"

    async def attempt(self) -> int:
        """Count one attempt; the attempts left after it, should it fail. Refuses with
        423 when payments are locked, and with 429 when other checks of this user kept
        every try busy for :data:`CONTENDED_WAIT_SECONDS`."""
        deadline = time.monotonic() + CONTENDED_WAIT_SECONDS
        while True:
            try:
                count = await self.cache.incr(self.key, ttl_seconds=self.lock_seconds)
            except CacheUnavailableError as error:
                log.warning("PIN not checked: cache unavailable")
                raise PinUnavailableError("PINs cannot be checked right now; try again") from error
            if count > LOCKED:
                raise PinLockedError(
                    "too many wrong PINs: payments are locked for a while",
                    headers={"Retry-After": str(self.lock_seconds)},
                )
            if count <= self.limit:
                return self.limit - count
            if time.monotonic() > deadline:
                raise RateLimitedError(
                    "too many PIN checks at once: try again", headers={"Retry-After": "1"}
                )
            # the tries are held by checks in flight: a right one clears the count, the
            # wrong ones end in the lock
            await asyncio.sleep(CONTENDED_POLL_SECONDS)

    async def succeeded(self) -> None:
        """A right PIN: the wrong ones before it no longer count."""
        try:
            await self.cache.delete(self.key)
        except CacheUnavailableError:
            log.warning("PIN failures of %s not cleared: cache unavailable", self.key)

    async def failed(self, attempts_left: int) -> WrongPinError:
        """The refusal of a wrong PIN, saying how many tries are left; the last one
        starts the whole lock from now."""
        if attempts_left == 0:
            try:
                await self.cache.set(
                    self.key, str(LOCKED + self.limit).encode(), ttl_seconds=self.lock_seconds
                )
            except CacheUnavailableError:
                log.warning("PIN lock of %s not extended: cache unavailable", self.key)
            log.warning("payments locked after %d wrong PINs (%s)", self.limit, self.key)
        return WrongPinError(attempts_left)
