"""Phone numbers, normalised to E.164 with India as the default region, and the handles
a payment is addressed to (a phone or an e-mail)."""

from __future__ import annotations

import functools
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tijori.common.errors import UnprocessableError

DEFAULT_REGION = "IN"


class InvalidPhoneError(ValueError):
    """The text is not a valid phone number."""


@functools.lru_cache(maxsize=8192)
def normalize_phone(raw: str, *, default_region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of ``raw``: ``"98765 43210"`` -> ``"+919876543210"``.

    A number without a country code is read as Indian (``+91``). Remembered for the
    numbers seen last: a payment's receiver is read by users (its token) and by
    transactions, and parsing costs about 30 µs (docs/performance.md).
    """
    text = raw.strip()
    if not text or len(text) > 32:
        raise InvalidPhoneError("a phone number is required")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneError(f"'{text}' is not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(f"'{text}' is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def looks_like_email(username: str) -> bool:
    """A log-in name with an ``@`` is an e-mail address; anything else is a phone."""
    return "@" in username


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def normalize_email(address: str) -> str:
    """The form e-mail addresses are compared in: stripped, NFC, ASCII letters in lower
    case, every other character as it is. ``Asha@Example.com`` is ``asha@example.com``,
    but ``rť-a@x.co`` is never ``rt-a@x.co``: no accent, width or case folding beyond
    ASCII (Unicode lower-casing maps the Kelvin sign to ``k``), so no two mailboxes share
    one form (docs/security.md, "E-mail addresses")."""
    return unicodedata.normalize("NFC", address.strip()).translate(_ASCII_LOWER)


def normalize_handle(raw: str) -> str:
    """The canonical form of a receiver: a normalised e-mail (:func:`normalize_email`)
    or an E.164 phone."""
    text = raw.strip()
    try:
        if looks_like_email(text):
            return normalize_email(validate_email(text, check_deliverability=False).normalized)
        return normalize_phone(text)
    except (EmailNotValidError, InvalidPhoneError) as error:
        raise UnprocessableError(
            "the receiver must be a phone number or an e-mail address", code="invalid_receiver"
        ) from error
