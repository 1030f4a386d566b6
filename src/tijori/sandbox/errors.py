"""Razorpay's error answers: ``{"error": {"code", "description", ...}}``, never a traceback.

Razorpay answers a bad request, an unknown id and even an unknown URL with 400 and
``BAD_REQUEST_ERROR``; a wrong key with 401; its own failure with 5xx and
``SERVER_ERROR``. Every error the sandbox gives has that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

NOT_FOUND = "The id provided does not exist"


class RazorpayError(Exception):
    """An answer of Razorpay's error shape, with its HTTP status."""

    def __init__(
        self,
        description: str,
        *,
        status: int = 400,
        code: str = "BAD_REQUEST_ERROR",
        field: str | None = None,
        reason: str = "input_validation_failed",
        source: str = "business",
        step: str = "payment_initiation",
    ) -> None:
        super().__init__(description)
        self.status = status
        self.body = error_body(
            description, code=code, field=field, reason=reason, source=source, step=step
        )


def error_body(
    description: str,
    *,
    code: str = "BAD_REQUEST_ERROR",
    field: str | None = None,
    reason: str = "input_validation_failed",
    source: str = "business",
    step: str = "payment_initiation",
) -> dict[str, Any]:
    """Razorpay's error object."""
    return {
        "error": {
            "code": code,
            "description": description,
            "source": source,
            "step": step,
            "reason": reason,
            "metadata": {},
            "field": field,
        }
    }


def not_found() -> RazorpayError:
    """What Razorpay answers for an id it does not know."""
    return RazorpayError(NOT_FOUND, field="id", reason="NA", source="NA", step="NA")


def _validation_description(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0] if error.errors() else {}
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON", None
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location) or None
    message = str(first.get("msg", "invalid request"))
    if field is None:
        return f"The request is invalid: {message}", None
    return f"The {field} field is invalid: {message}", field


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, in Razorpay's shape."""

    @app.exception_handler(RazorpayError)
    async def razorpay_error(_: Request, error: RazorpayError) -> JSONResponse:
        return JSONResponse(error.body, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        description, field = _validation_description(error)
        return JSONResponse(error_body(description, field=field), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            # Razorpay answers an unknown URL with 400, as a bad request
            body = error_body("The requested URL was not found on the server.", reason="NA")
            under_api = request.url.path.startswith("/v1")
            return JSONResponse(body, status_code=400 if under_api else 404)
        return JSONResponse(
            error_body(str(error.detail), reason="NA"),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("the sandbox failed to answer")
        body = error_body(
            "The server encountered an error. The incident has been reported to admins.",
            code="SERVER_ERROR",
            reason="server_error",
            source="internal",
            step="NA",
        )
        return JSONResponse(body, status_code=500)
