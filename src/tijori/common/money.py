"""Money at the edges: parse user input to integer paise and format paise for output.

Inside Tijori money is always an ``int`` number of paise. An amount is parsed from
its text, digit by digit: nothing is rounded, and nothing but the one grammar below
is taken.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CURRENCY = "INR"
PAISE_PER_RUPEE = 100
# Far above any wallet balance and far below what a signed BIGINT holds.
MAX_PAISE = 10**15
# The whole grammar of an amount: ASCII digits, then at most one point and two decimals.
# Not Decimal's grammar, which also takes "1_0", other scripts' digits and exponents.
AMOUNT_TEXT = re.compile(r"([0-9]+)(?:\.([0-9]{1,2}))?", re.ASCII)
_MAX_TEXT = 24  # "10000000000000.00" and some leading zeros; longer is not an amount


class InvalidAmountError(ValueError):
    """The text or number given is not an amount of money Tijori accepts."""


def _amount_text(value: Any) -> str:
    """The text an amount was written as: a string as sent, a number as JSON wrote it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise InvalidAmountError("an amount must be a number or a decimal string")
    if isinstance(value, int):
        if abs(value) > MAX_PAISE:  # and str() of a huge int is slow, or refused
            raise InvalidAmountError("the amount is too large")
        return str(value)
    if isinstance(value, Decimal):
        # a JSON number keeps its literal (tijori.common.body.JsonNumber); str() of any
        # other Decimal is its exact value, with an exponent when it has one
        return getattr(value, "text", None) or str(value)
    if isinstance(value, float):
        return repr(value)  # the shortest text that round-trips, not the binary value
    raise InvalidAmountError("an amount must be a number or a decimal string")


def parse_paise(value: Any) -> int:
    """Turn ``"25.50"``, ``25.5`` or ``25`` into paise (2550), exactly or not at all.

    An amount is ASCII digits with at most one point and at most two decimals, given as
    a string or as a number with that text; anything else (a sign, spaces, ``"1_0"``,
    non-ASCII digits, a third decimal, an exponent, NaN) is refused, never rounded, as
    is a magnitude beyond ``MAX_PAISE``. Zero parses; callers decide whether they allow it.
    """
    text = _amount_text(value)
    match = AMOUNT_TEXT.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        shown = text if len(text) <= _MAX_TEXT else f"{text[:_MAX_TEXT]}…"
        raise InvalidAmountError(
            f"{shown!r} is not an amount: write rupees with at most two decimals, like 25.50"
        )
    rupees, decimals = match.group(1), match.group(2) or ""
    paise = int(rupees) * PAISE_PER_RUPEE + int(decimals.ljust(2, "0"))
    if paise > MAX_PAISE:
        raise InvalidAmountError("the amount is too large")
    return paise


def format_paise(paise: int) -> str:
    """Format paise as rupees with exactly two decimals: 2550 -> ``"25.50"``."""
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{rupees}.{rest:02d}"


def format_rupees(paise: int) -> str:
    """Paise as a person reads rupees, in Indian grouping: 10000000 -> ``"₹1,00,000.00"``."""
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), PAISE_PER_RUPEE)
    digits = str(rupees)
    # the last three digits, then groups of two (lakh, crore)
    head, tail = digits[:-3], digits[-3:]
    groups = [head[max(0, end - 2) : end] for end in range(len(head), 0, -2)][::-1]
    return f"{sign}₹{','.join([*groups, tail])}.{rest:02d}"


def _validate_positive_paise(value: Any) -> int:
    try:
        paise = parse_paise(value)
    except InvalidAmountError as error:
        raise PydanticCustomError("invalid_amount", str(error)) from error
    if paise <= 0:
        raise PydanticCustomError("invalid_amount", "the amount must be greater than zero")
    return paise


PositivePaise = Annotated[int, BeforeValidator(_validate_positive_paise)]
"""A request field holding a positive amount, parsed to paise."""


def _validate_paise(value: Any) -> int:
    try:
        return parse_paise(value)
    except InvalidAmountError as error:
        raise PydanticCustomError("invalid_amount", str(error)) from error


Rupees = Annotated[int, PlainSerializer(format_paise, return_type=str, when_used="always")]
"""A response field holding paise, written as a two-decimal string."""

# a request's amount: parsed to paise, but what the client sends is rupees, and the
# schema says so rather than "integer"
RupeeAmount = Annotated[
    PositivePaise,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}]}),
]

# a payment token's amount: zero authorises an action that moves no money (unfreezing)
RupeeAmountOrZero = Annotated[
    int,
    BeforeValidator(_validate_paise),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]}),
]
"""A request field holding an amount of zero or more rupees, parsed to paise."""
