"""Money parsing and formatting: integer paise inside, two-decimal strings outside."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tijori.common.money import (
    MAX_PAISE,
    InvalidAmountError,
    PositivePaise,
    Rupees,
    format_paise,
    format_rupees,
    parse_paise,
)


@pytest.mark.parametrize(
    ("value", "paise"),
    [
        ("25.50", 2550),
        ("25.5", 2550),
        ("25", 2500),
        ("0.01", 1),
        ("007.50", 750),
        (25, 2500),
        (25.5, 2550),
        (0.1, 10),
        (19.99, 1999),
        (Decimal("7.07"), 707),
        ("0", 0),
        ("10000000000000.00", MAX_PAISE),
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
        # what Decimal() takes and an amount is not (issue 17)
        "1_0",
        "\u0661\u0660",  # Arabic-Indic digits
        "\u0967\u0966",  # Devanagari digits
        "\uff11\uff10",  # full-width digits
        "0.99999999999999999999999999999",
        "1.0000000000000000000000000001",
        "1e999999",
        "-1e999999",
        "1E+999999999",
        "-1E+999999999",
        Decimal("1E+999999999"),
        "1e2",
        Decimal("1E+2"),
        1e2 * 1e20,
        " 0.01 ",
        "0.01\n",
        "+1",
        "-3.00",
        "1.",
        ".5",
        "1..0",
        "1.0.0",
        "1,000",
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
    if paise >= 0:
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


# The whole grammar of an amount (issue 17), written here as the specification.
AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")

# Text that is nearly an amount: digits of several scripts, points, signs, exponents,
# underscores and spaces, in any order, and any text at all.
_NEAR_AMOUNT_CHARACTERS = "0123456789..eE+-_ ,\u0661\u0663\u0969\uff15\u00a0\n"
_NEAR_AMOUNTS = st.text(alphabet=st.sampled_from(_NEAR_AMOUNT_CHARACTERS), max_size=30)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_NEAR_AMOUNTS, st.text(max_size=40), st.from_regex(AMOUNT, fullmatch=True)))
@example("0.99999999999999999999999999999")
@example("1.0000000000000000000000000001")
@example("1e999999")
@example("-1E+999999999")
def test_an_amount_is_its_text_exactly_or_refused(text: str) -> None:
    """Never a rounding and never another error: either the text is an amount and
    parses to exactly its value, or it is refused as one."""
    try:
        paise = parse_paise(text)
    except InvalidAmountError:
        grammatical = AMOUNT.fullmatch(text) is not None
        assert not grammatical or Decimal(text) * 100 > MAX_PAISE
        return
    assert AMOUNT.fullmatch(text) is not None
    assert Decimal(paise) == Decimal(text) * 100
    assert parse_paise(format_paise(paise)) == paise


@pytest.mark.parametrize(
    ("paise", "shown"),
    [
        (0, "₹0.00"),
        (5, "₹0.05"),
        (10_000, "₹100.00"),
        (100_000, "₹1,000.00"),
        (10_000_000, "₹1,00,000.00"),
        (1_234_567_850, "₹1,23,45,678.50"),
        (-2_550, "-₹25.50"),
    ],
)
def test_format_rupees_groups_digits_the_indian_way(paise: int, shown: str) -> None:
    assert format_rupees(paise) == shown
