"""Cursor pagination: newest first, with an opaque cursor naming the last item seen."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from tijori.common.errors import UnprocessableError

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="How many items to return (1-100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="The `next_cursor` of the previous page."),
]


def _page_examples(schema: JsonDict, page_type: type[Any]) -> None:
    """Give ``Page[Item]`` one example: a last page holding the examples of ``Item``."""
    args = getattr(page_type, "__pydantic_generic_metadata__", {}).get("args", ())
    item_type = args[0] if len(args) == 1 else None
    if not (isinstance(item_type, type) and issubclass(item_type, BaseModel)):
        return
    extra = item_type.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if isinstance(examples, list) and examples:
        schema["examples"] = [{"items": list(examples), "next_cursor": None}]


class Page(BaseModel, Generic[T]):
    """One page of a newest-first list."""

    model_config = ConfigDict(json_schema_extra=_page_examples)

    items: list[T]
    next_cursor: str | None = Field(
        description="Send it as `cursor` for the next (older) page; null on the last page.",
        examples=["djE6NTc"],
    )


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
