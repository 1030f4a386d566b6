"""Request bodies: JSON parsed strictly, once, for every route of every service.

Python's ``json`` keeps the last of two equal keys, so ``{"amount": "0.01", "amount":
"50.00"}`` would be read as ₹50 by us and as ₹0.01 by a proxy or log that keeps the
first; and it turns ``0.99999999999999999999999999999`` into the float ``1.0``. Here a
repeated key is refused (422 ``duplicate_key``) and a number with a point or an
exponent keeps the text it was written as (``JsonNumber``), so that money is read from
what the client wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tijori.common.errors import ProblemError


class JsonNumber(Decimal):
    """A JSON number with a fraction or an exponent: its exact value, and its text."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


class DuplicateKeyError(json.JSONDecodeError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice", "", 0)
        self.key = key


class DuplicateKeyProblem(ProblemError):
    """422 ``duplicate_key``: which of two values was meant cannot be known."""

    status, code = 422, "duplicate_key"


def loads(document: str | bytes) -> Any:
    """Parse a JSON body: ``DuplicateKeyError`` for a key given twice in one object;
    numbers with a point or an exponent as ``JsonNumber``; integers as ``int``."""
    # bytes as they came: json.loads finds their encoding (UTF-8, -16 or -32) as Starlette's does
    return json.loads(document, object_pairs_hook=_unique, parse_float=JsonNumber)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKeyError(key)
        found[key] = value
    return found


def duplicate_key_problem(error: DuplicateKeyError) -> DuplicateKeyProblem:
    """The problem a body with ``error`` gets, naming the key like a validation error."""
    message = f"the key {error.key!r} appears more than once; send each key once"
    return DuplicateKeyProblem(
        message,
        errors=[{"field": error.key, "code": "duplicate_key", "message": message}],
    )


class StrictJsonRequest(Request):
    """A request whose ``json()`` is ``loads``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route that reads its JSON body with ``loads``; every service router uses it
    (``create_service_app`` refuses a router that does not)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_strictly(request: Request) -> Response:
            try:
                return await handle(StrictJsonRequest(request.scope, request.receive))
            except RequestValidationError as error:
                # FastAPI reports any JSON it cannot parse as json_invalid; say why
                if isinstance(error.__cause__, DuplicateKeyError):
                    raise duplicate_key_problem(error.__cause__) from error
                raise

        return handle_strictly
