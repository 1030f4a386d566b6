"""Cursor pagination: newest first, with an opaque cursor naming the last item seen."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from tijori.common.errors import UnprocessableError

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="How many items to return (1-100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="The `next_cursor` of the previous page."),
]


class Page(BaseModel, Generic[T]):
    """One page of a newest-first list."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: int) -> str:
    """An opaque cursor for the item at ``position`` (a sequence number)."""
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The position inside ``cursor``; 422 ``invalid_cursor`` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, position = text.partition(":")
        if version != "v1" or not position.isdigit() or len(position) > 19:
            raise ValueError(text)
        return int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise UnprocessableError("the cursor is not valid", code="invalid_cursor") from error
