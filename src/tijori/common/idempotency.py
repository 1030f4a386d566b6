"""The ``Idempotency-Key`` header, read one way by every route that takes it."""

# no ``from __future__ import annotations``: the header's annotation names the closure's
# ``description``, which FastAPI could not resolve from a string
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header

from tijori.common.errors import UnprocessableError

MAX_IDEMPOTENCY_KEY = 255
"""The longest key accepted, in characters."""


def idempotency_key_header(description: str) -> Callable[..., Awaitable[str | None]]:
    """A dependency reading the request's ``Idempotency-Key`` (None when absent): 1 to
    255 printable characters, or 422 ``invalid_idempotency_key``. ``description`` is
    what the route's OpenAPI says of it."""

    async def idempotency_key(
        key: Annotated[str | None, Header(alias="Idempotency-Key", description=description)] = None,
    ) -> str | None:
        if key is None:
            return None
        if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise UnprocessableError(
                f"an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
                code="invalid_idempotency_key",
            )
        return key

    return idempotency_key
