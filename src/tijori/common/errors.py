"""Errors as RFC 9457 problem details, each with a stable machine-readable ``code``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from tijori.common.cache import CacheUnavailableError
from tijori.common.tracing import correlation_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Every problem ``code`` the API answers with, and what it means; OpenAPI lists them per
# route (tijori.common.openapi), and a route may only name codes listed here.
PROBLEM_CODES: dict[str, str] = {
    "bad_request": "the body is not valid JSON (or form data) at all",
    "validation_error": "a field is missing or malformed; `errors` names each field",
    "duplicate_key": "the JSON body names a key twice (which value was meant is unknowable)",
    "invalid_amount": "the amount is not a positive rupee amount with at most two decimals",
    "invalid_email": "the e-mail address is not valid",
    "invalid_phone": "the text is not a phone number (Indian numbers may omit +91)",
    "invalid_name": "the name is empty, too long or has control characters",
    "weak_password": "the password is too short or too long",
    "invalid_receiver": "the receiver is neither a phone number nor an e-mail address",
    "invalid_note": "the note is too long or has control characters",
    "invalid_cursor": "the page cursor is not one this API gave out",
    "invalid_idempotency_key": "the Idempotency-Key header is empty or too long",
    "unprocessable": "the request is well-formed but cannot be processed",
    "self_transfer": "the receiver is the sender",
    "insufficient_funds": "the balance does not cover the amount; `available` says how much is",
    "unauthorized": "no bearer token was sent",
    "invalid_token": "the bearer token is not valid",
    "token_expired": "the bearer token has expired",
    "invalid_credentials": "the username or password is wrong",
    "invalid_refresh_token": "the refresh token is unknown, expired, used before or of an ended "
    "session (a used one also ends its session): log in again",
    "session_ended": "the session this access token belongs to has ended: log in again",
    "weak_pin": "the PIN is not 4 or 6 digits, or is one digit repeated or a run like 1234",
    "current_pin_required": "a PIN is set: changing it needs the current PIN or the password",
    "invalid_pin": "the PIN is wrong; `attempts_left` says how many tries remain",
    "pin_locked": "too many wrong PINs: payments are locked (`Retry-After` seconds)",
    "pin_not_set": "no transaction PIN is set yet: set one first",
    "email_not_verified": "the e-mail address is not verified yet: paying needs it verified "
    "(POST /api/users/me/email/verify)",
    "email_already_verified": "the e-mail address is verified already",
    "invalid_code": "the verification code is wrong; `attempts_left` says how many tries remain",
    "code_expired": "the verification code has expired, was used up or was never sent: ask "
    "for a new one",
    "too_many_requests": "too many sign-ups from this address, or a new code asked for too "
    "soon; retry after `Retry-After` seconds",
    "payment_token_required": "a debit needs an `X-Payment-Token` (POST /api/auth/payment-token)",
    "payment_token_invalid": "the payment token is invalid, expired, used, or for another payment",
    "idempotency_key_required": "a debit needs an Idempotency-Key, the one its payment token names",
    "forbidden": "the caller may not do this",
    "not_found": "there is nothing at this address",
    "user_not_found": "no such user (or not one the caller may see)",
    "wallet_not_found": "the wallet does not exist yet (it opens moments after sign-up)",
    "receiver_not_found": "no Tijori wallet has this phone or e-mail",
    "transaction_not_found": "no such transaction (or not one the caller may see)",
    "topup_not_found": "no such top-up (or not one the caller may see)",
    "session_not_found": "no such session that is still open (or not one of the caller's)",
    "withdrawal_not_found": "no such withdrawal (or not one the caller may see)",
    "limit_exceeded": "the amount passes a limit; `limit` names it (and a transfer's "
    "pre-check says what is `left`)",
    "wallet_frozen": "the wallet is frozen: it pays nothing until it is unfrozen (money still "
    "comes in)",
    "frozen_by_admin": "Tijori's team froze this wallet: only they can unfreeze it",
    "invalid_pan": "the PAN is not five capital letters, four digits and a capital letter",
    "invalid_date_of_birth": "the date of birth is not a date, is in the future, or is a minor's",
    "kyc_pending": "a KYC check is under way already: wait for its result",
    "kyc_already_full": "the user is full-KYC already",
    "kyc_required": "this needs a full-KYC wallet: upgrade with POST /api/users/me/kyc",
    "invalid_limit": "a daily cap is above the most a user may set",
    "kyc_unavailable": "the KYC verifier did not answer; nothing was changed, try again",
    "invalid_bank_account": "the account number (9-18 digits), IFSC or holder's name is not valid",
    "gateway_unavailable": "the payment gateway did not answer; nothing was made, try again",
    "invalid_signature": "the webhook's signature does not match its body",
    "invalid_webhook": "the webhook is not JSON of the gateway's shape, or has no event id",
    "method_not_allowed": "this address does not take this HTTP method",
    "conflict": "the request conflicts with what exists",
    "email_taken": "an account with this e-mail already exists",
    "phone_taken": "an account with this phone already exists",
    "idempotency_key_reused": "the Idempotency-Key was used before for a different request",
    "rate_limited": "too many requests; retry after `Retry-After` seconds",
    "too_many_attempts": "too many failed log-ins; retry after `Retry-After` seconds",
    "internal_error": "an unexpected error; nothing partial was kept",
    "service_unavailable": "a dependency is down; nothing was changed, try again",
    "not_ready": "the service or one of its dependencies is not ready",
    "invalid_url": "the gateway could not make a request of this URL",
    "payload_too_large": "the request body is larger than the gateway takes (1 MiB)",
    "bad_gateway": "the service gave the gateway no valid answer",
    "upstream_timeout": "the service did not answer the gateway in time",
}


# Validation error types raised by our own validators; they name the problem when first.
FIELD_CODES = frozenset(
    {
        "invalid_amount",
        "invalid_email",
        "invalid_phone",
        "invalid_name",
        "weak_password",
        "invalid_receiver",
        "invalid_cursor",
        "invalid_idempotency_key",
        "invalid_note",
        "invalid_bank_account",
        "invalid_pan",
        "invalid_date_of_birth",
    }
)


class ProblemError(Exception):
    """An error the API reports as problem+json; subclasses fix status and code."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.headers = headers
        self.extra = extra


class NotFoundError(ProblemError):
    status, code = 404, "not_found"


class ConflictError(ProblemError):
    status, code = 409, "conflict"


class UnauthorizedError(ProblemError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str = "a valid bearer token is required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class ForbiddenError(ProblemError):
    status, code = 403, "forbidden"


class WalletFrozenError(ProblemError):
    """A debit of a frozen wallet, refused at once (423: the wallet is locked)."""

    status, code = 423, "wallet_frozen"


class UnprocessableError(ProblemError):
    status, code = 422, "unprocessable"


class RateLimitedError(ProblemError):
    status, code = 429, "rate_limited"


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://tijori.dev/problems/{code.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    correlation_id = correlation_id_var.get()
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_of(error: ProblemError) -> JSONResponse:
    """The problem+json answer to ``error``."""
    return problem_response(
        error.status, error.code, error.detail, headers=error.headers, **error.extra
    )


DEPENDENCY_ERRORS = (OperationalError, InterfaceError, CacheUnavailableError)
"""What a request meets when the database or the cache is away: 503, nothing done."""


def dependency_down(method: str, path: str, error: Exception) -> JSONResponse:
    """The 503 of a request that met one of :data:`DEPENDENCY_ERRORS`."""
    log.warning("dependency unavailable on %s %s: %s", method, path, error)
    return problem_response(
        503,
        "service_unavailable",
        "a dependency of this service is unavailable; nothing was changed, try again shortly",
        headers={"Retry-After": "2"},
    )


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        items.append(
            {
                "field": ".".join(location),
                "code": item.get("type", "invalid"),
                "message": item.get("msg", ""),
            }
        )
    return items


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error leave the app as problem+json, including ones FastAPI raises."""

    @app.exception_handler(ProblemError)
    async def on_problem(_: Request, error: ProblemError) -> JSONResponse:
        return problem_of(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(error)
        first = errors[0] if errors else {"code": "validation_error", "message": "invalid request"}
        code = first["code"] if first["code"] in FIELD_CODES else "validation_error"
        detail = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
        return problem_response(422, code, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, HTTPStatus(error.status_code).phrase.lower().replace(" ", "_")
        )
        return problem_response(
            error.status_code, code, str(error.detail), headers=getattr(error, "headers", None)
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(CacheUnavailableError)
    async def on_dependency_down(request: Request, error: Exception) -> JSONResponse:
        return dependency_down(request.method, request.url.path, error)

    @app.exception_handler(ClientDisconnect)
    async def on_client_gone(request: Request, _: ClientDisconnect) -> Response:
        # nobody is left to read an answer; nothing was done (the body never arrived)
        log.info("%s %s: the client went away", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "an unexpected error occurred")
