"""Money parsing and formatting: integer paise inside, two-decimal strings outside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tijori.common.money import (
    MAX_PAISE,
    InvalidAmountError,
    PositivePaise,
    Rupees,
    format_paise,
    parse_paise,
)


@pytest.mark.parametrize(
    ("value", "paise"),
    [
        ("25.50", 2550),
        ("25.5", 2550),
        ("25", 2500),
        (" 0.01 ", 1),
        (25, 2500),
        (25.5, 2550),
        (0.1, 10),
        (19.99, 1999),
        (Decimal("7.07"), 707),
        ("-3.00", -300),
        ("0", 0),
        ("1e2", 10_000),
    ],
)
def test_amounts_parse_to_exact_paise(value: Any, paise: int) -> None:
    assert parse_paise(value) == paise


@pytest.mark.parametrize(
    "value",
    [
        "1.234",
        0.001,
        "abc",
        "",
        "   ",
        None,
        True,
        "NaN",
        "Infinity",
        float("inf"),
        float("nan"),
        "1e30",
        1e30,
        10**30,
        "9" * 40,
        [],
        {"amount": 1},
    ],
)
def test_anything_else_is_refused(value: Any) -> None:
    with pytest.raises(InvalidAmountError):
        parse_paise(value)


def test_the_largest_amount_is_accepted_and_one_paisa_more_is_not() -> None:
    assert parse_paise(format_paise(MAX_PAISE)) == MAX_PAISE
    with pytest.raises(InvalidAmountError):
        parse_paise(format_paise(MAX_PAISE + 1))


@pytest.mark.parametrize(
    ("paise", "text"),
    [(0, "0.00"), (1, "0.01"), (2550, "25.50"), (-2550, "-25.50"), (10**7, "100000.00")],
)
def test_paise_format_with_exactly_two_decimals(paise: int, text: str) -> None:
    assert format_paise(paise) == text
    assert parse_paise(text) == paise


class _Transfer(BaseModel):
    amount: PositivePaise


class _Balance(BaseModel):
    balance: Rupees


@pytest.mark.parametrize("value", [0, "0.00", -1, "-0.01", "1.234", "abc", None, 1e30])
def test_a_request_amount_must_be_positive_with_at_most_two_decimals(value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        _Transfer(amount=value)
    assert raised.value.errors()[0]["type"] == "invalid_amount"


def test_request_amounts_become_paise_and_responses_become_strings() -> None:
    assert _Transfer(amount="12.34").amount == 1234
    assert _Balance(balance=1234).model_dump() == {"balance": "12.34"}
    assert _Balance(balance=5).model_dump_json() == '{"balance":"0.05"}'
