"""Which passwords a user may choose.

At least 8 characters and at most 128 (long passphrases are welcome), not one of the
10,000 most common passwords (the ranked list zxcvbn ships, from leaked password
dumps; compared ignoring case), not the user's own e-mail address or phone number,
not only whitespace, and no control characters (NIST SP 800-63B, 3.1.1.2: check new
passwords against lists of commonly used or compromised values, and impose no other
composition rules). docs/architecture.md, "Users and security".
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pydantic_core import PydanticCustomError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS_CHECKED = 10_000


@functools.cache
def common_passwords() -> frozenset[str]:
    """The most common passwords, lowercased (loaded on first use: the list is large)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    ranked: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(password.casefold() for password in ranked[:COMMON_PASSWORDS_CHECKED])


def _weak(message: str) -> PydanticCustomError:
    return PydanticCustomError("weak_password", message)


def check_password(value: str) -> str:
    """``value`` if it may be a password, else ``weak_password`` saying why."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise _weak(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise _weak(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if not value.strip():
        raise _weak("a password is more than spaces")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise _weak("a password has no control characters")
    if value.casefold() in common_passwords():
        raise _weak("this password is one of the most common ones: choose another")
    return value


def check_not_own(password: str, *, email: str, phone: str) -> None:
    """Refuse a password that is the user's own e-mail address (or its name before the
    ``@``) or phone number (as ``+91…``, ``0…`` or the ten digits, with or without
    spaces and dashes), in any case."""
    folded = password.strip().casefold()
    compact = re.sub(r"[\s().+-]", "", password)
    national = phone.removeprefix("+91")
    if folded in (email.casefold(), email.split("@")[0].casefold()) or compact in (
        national,
        f"0{national}",
        phone.removeprefix("+"),
    ):
        raise _weak("a password is not your e-mail address or phone number")
