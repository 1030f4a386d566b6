"""Money at the edges: parse user input to integer paise and format paise for output.

Inside Tijori money is always an ``int`` number of paise; ``Decimal`` appears only
here, while turning text into paise and back.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CURRENCY = "INR"
PAISE_PER_RUPEE = 100
# Far above any wallet balance and far below what a signed BIGINT holds.
MAX_PAISE = 10**15


class InvalidAmountError(ValueError):
    """The text or number given is not an amount of money Tijori accepts."""


def parse_paise(value: Any) -> int:
    """Turn ``"25.50"``, ``25.5`` or ``25`` into paise (2550).

    Accepts a string or a number with at most two decimal places; refuses booleans,
    NaN, infinities, exponents that hide huge values, and magnitudes beyond
    ``MAX_PAISE``. Zero and negative amounts parse; callers decide what they allow.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmountError("an amount must be a number or a decimal string")
    if isinstance(value, int):
        rupees = Decimal(value)
    elif isinstance(value, float):
        rupees = Decimal(repr(value))  # the shortest text that round-trips, not the binary value
    elif isinstance(value, str | Decimal):
        text = str(value).strip()
        if not text or len(text) > 32:
            raise InvalidAmountError("an amount must be a short decimal string such as '25.50'")
        try:
            rupees = Decimal(text)
        except InvalidOperation as error:
            raise InvalidAmountError(f"'{text}' is not a decimal amount") from error
    else:
        raise InvalidAmountError("an amount must be a number or a decimal string")
    if not rupees.is_finite():
        raise InvalidAmountError("an amount must be finite")
    if abs(rupees) * PAISE_PER_RUPEE > MAX_PAISE:
        raise InvalidAmountError("the amount is too large")
    paise = rupees * PAISE_PER_RUPEE
    if paise != paise.to_integral_value():
        raise InvalidAmountError("an amount has at most two decimal places")
    return int(paise)


def format_paise(paise: int) -> str:
    """Format paise as rupees with exactly two decimals: 2550 -> ``"25.50"``."""
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{rupees}.{rest:02d}"


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

Rupees = Annotated[int, PlainSerializer(format_paise, return_type=str, when_used="always")]
"""A response field holding paise, written as a two-decimal string."""

# a request's amount: parsed to paise, but what the client sends is rupees, and the
# schema says so rather than "integer"
RupeeAmount = Annotated[
    PositivePaise,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}]}),
]
