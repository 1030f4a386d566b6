"""Phone numbers are stored in E.164, with +91 assumed for Indian numbers."""

from __future__ import annotations

import pytest

from tijori.common.phone import InvalidPhoneError, looks_like_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("9876543210", "+919876543210"),
        ("98765 43210", "+919876543210"),
        ("098765-43210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("+1 202-555-0123", "+12025550123"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "12345", "abcdefghij", "+91 12", "1" * 40, "+999 1234567"])
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneError):
        normalize_phone(raw)


def test_a_username_with_an_at_sign_is_an_email() -> None:
    assert looks_like_email("a@b.co")
    assert not looks_like_email("+919876543210")
