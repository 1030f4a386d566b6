"""The password policy: long passphrases yes; common passwords, the user's own e-mail or
phone, blank and control characters no."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tijori.users.passwords import common_passwords
from tijori.users.schemas import UserCreate

ASHA = {"name": "Asha Rao", "email": "asha.rao@example.com", "phone": "+919876543210"}


def _refusal(password: str) -> str | None:
    try:
        UserCreate(**ASHA, password=password)
    except ValidationError as error:
        first = error.errors()[0]
        assert first["type"] == "weak_password", first
        return str(first["msg"])
    return None


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password",
        "PASSWORD",
        "iloveyou",
        "12345678",
        "qwertyuiop",
        "asha.rao@example.com",
        "Asha.Rao@Example.com",
        "asha.rao",
        "9876543210",
        "+919876543210",
        "098765 43210",
        "+91-98765-43210",
        "        ",
        "\t\t\t\t\t\t\t\t",
        "correct\x00horse",
        "horse\nbattery staple",
        "short",
        "x" * 129,
    ],
)
def test_a_weak_password_is_refused_with_a_reason(password: str) -> None:
    assert _refusal(password)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "tr0ub4dor&3 but longer",
        "मेरा पासवर्ड बहुत लंबा है",
        "a" * 7 + "b",
        "x" * 128,
        "98765 43210 is my old number",
    ],
)
def test_a_good_or_long_password_is_accepted(password: str) -> None:
    assert _refusal(password) is None


def test_the_list_holds_the_ten_thousand_most_common_passwords() -> None:
    common = common_passwords()
    assert 9_000 <= len(common) <= 10_000  # a few differ only in case
    assert {"password", "123456", "qwerty", "iloveyou", "sunshine"} <= common
