"""HTTP routes of the users service."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import State

from tijori.common.app import RuntimeDep, UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal, Principal
from tijori.common.body import DuplicateKeyError, StrictJsonRoute, duplicate_key_problem, loads
from tijori.common.cache import CacheUnavailableError
from tijori.common.errors import NotFoundError, UnprocessableError
from tijori.common.hot import HotRoute
from tijori.common.openapi import problems
from tijori.users import service, sessions
from tijori.users.config import UsersSettings
from tijori.users.pin import PinDesk, WrongPinError
from tijori.users.schemas import (
    Credentials,
    PasswordChange,
    PasswordCheck,
    PaymentTokenRequest,
    PaymentTokenResponse,
    PinChange,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)
from tijori.users.verification import SignupLimiter

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["users"], route_class=StrictJsonRoute)


async def get_settings(runtime: RuntimeDep) -> UsersSettings:
    """The users service's settings."""
    settings = runtime.settings
    assert isinstance(settings, UsersSettings)
    return settings


SettingsDep = Annotated[UsersSettings, Depends(get_settings)]


async def get_pin_secret(request: Request) -> bytes:
    """The key PINs are kept under, loaded at start-up (users/pin.py)."""
    secret: bytes = request.app.state.pin_secret
    return secret


PinSecretDep = Annotated[bytes, Depends(get_pin_secret)]


async def get_pin_desk(request: Request) -> PinDesk:
    """What a payment's PIN check needs, built at start-up (users/pin.py)."""
    desk: PinDesk = request.app.state.pin_desk
    return desk


PinDeskDep = Annotated[PinDesk, Depends(get_pin_desk)]


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Sign up",
    responses=problems(
        {
            409: ["email_taken", "phone_taken"],
            422: [
                "validation_error",
                "invalid_email",
                "invalid_phone",
                "invalid_name",
                "weak_password",
            ],
            429: ["too_many_requests"],
        }
    ),
)
async def sign_up(
    data: UserCreate,
    request: Request,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    secret: PinSecretDep,
) -> UserRead:
    """Create an account; its wallet and welcome e-mail follow through events, and (when
    verification is required) the e-mail with the code that verifies the address. At
    most ``TIJORI_SIGNUP_LIMIT_PER_HOUR`` sign-ups an hour from one client address."""
    await SignupLimiter(runtime.cache, settings).take(_client_ip(request))
    user = await service.sign_up(
        uow,
        data=data,
        settings=settings,
        secret=secret,
        correlation_id=request.state.correlation_id,
    )
    await uow.commit()
    log.info("user %s signed up", user.id)
    return UserRead.model_validate(user)


def _client_ip(request: Request) -> str:
    """The client's address: the connecting one, or what a trusted proxy forwarded for it
    (``TIJORI_TRUSTED_PROXIES``, applied by the server; the limits per address count it)."""
    return request.client.host if request.client else "unknown"


async def _credentials(request: Request) -> Credentials:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            return Credentials.model_validate(loads(await request.body()))
        form = await request.form()
        return Credentials.model_validate(
            {"username": form.get("username"), "password": form.get("password")}
        )
    except DuplicateKeyError as error:
        raise duplicate_key_problem(error) from error
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
        ) from error
    except (AssertionError, ValueError, KeyError) as error:  # a form the parser refuses
        raise UnprocessableError("send username and password as a form or JSON") from error


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Log in",
    responses=problems(
        {
            401: ["invalid_credentials"],
            422: ["validation_error", "unprocessable"],
            429: ["too_many_attempts"],
        }
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": {"type": "string", "description": "e-mail or phone"},
                            "password": {"type": "string", "format": "password"},
                        },
                        "examples": [
                            {"username": "asha@example.com", "password": "correct horse battery"}
                        ],
                    }
                },
                "application/json": {"schema": Credentials.model_json_schema()},
            },
        }
    },
)
async def issue_token(
    request: Request, uow: UnitOfWorkDep, runtime: RuntimeDep, settings: SettingsDep
) -> TokenResponse:
    """Exchange an e-mail or phone and a password for a short-lived access token and the
    refresh token of a new session on this device."""
    credentials = await _credentials(request)
    tokens = await service.log_in(
        uow,
        cache=runtime.cache,
        keys=runtime.token_keys,
        settings=settings,
        username=credentials.username,
        password=credentials.password,
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    await uow.commit()
    return tokens


@router.get(
    "/users/me",
    response_model=UserRead,
    summary="Who am I",
    responses=problems({404: ["user_not_found"]}),
)
async def read_me(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, runtime: RuntimeDep, settings: SettingsDep
) -> UserRead:
    """The caller's own user."""
    return await service.get_user(
        uow,
        cache=runtime.cache,
        user_id=principal.user_id,
        ttl_seconds=settings.user_cache_ttl_seconds,
        known_authority=principal.authority,
    )


@router.patch(
    "/users/me",
    response_model=UserRead,
    summary="Change my name",
    responses=problems({404: ["user_not_found"], 422: ["validation_error", "invalid_name"]}),
)
async def update_me(
    data: UserUpdate, principal: CurrentPrincipal, uow: UnitOfWorkDep, runtime: RuntimeDep
) -> UserRead:
    """Change the caller's name; the cached copy is dropped after the commit."""
    user = await service.update_user(uow, user_id=principal.user_id, data=data)
    await uow.commit()
    try:
        await runtime.cache.delete(service.user_cache_key(user.id))
    except CacheUnavailableError:
        pass  # entries also expire on their own
    return UserRead.model_validate(user)


@router.get(
    "/users/{user_id}",
    response_model=UserRead,
    summary="Read a user",
    responses=problems({404: ["user_not_found"]}),
)
async def read_user(
    user_id: str,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> UserRead:
    """A user, for that user or an admin; anyone else is told it does not exist."""
    if user_id != principal.user_id and not principal.is_admin:
        raise NotFoundError("no such user", code="user_not_found")
    return await service.get_user(
        uow,
        cache=runtime.cache,
        user_id=user_id,
        ttl_seconds=settings.user_cache_ttl_seconds,
        known_authority=principal.authority if user_id == principal.user_id else None,
    )


@router.put(
    "/users/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password",
    responses=problems(
        {
            401: ["invalid_credentials", "session_ended"],
            404: ["user_not_found"],
            422: ["validation_error", "weak_password"],
            429: ["too_many_attempts"],
        }
    ),
)
async def change_my_password(
    change: PasswordChange,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    """Change the password, proven with the current one; every other session of the
    caller's ends (this one stays). Wrong current passwords are limited as log-ins are
    (429 after five in five minutes)."""
    await sessions.current(uow, principal=principal, settings=settings)
    await service.change_password(
        uow,
        cache=runtime.cache,
        settings=settings,
        user_id=principal.user_id,
        change=change,
        current_session_id=principal.session_id,
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/me/password/check",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Check my password",
    responses=problems(
        {
            401: ["invalid_credentials", "session_ended"],
            404: ["user_not_found"],
            422: ["validation_error"],
            429: ["too_many_attempts"],
        }
    ),
)
async def check_my_password(
    body: PasswordCheck,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    """204 when the password is the caller's own: the step up another service asks for
    (wallets, before a wallet is unfrozen). Wrong passwords count with those of a
    password change (429 after five in five minutes), in a session still open."""
    await sessions.current(uow, principal=principal, settings=settings)
    await service.check_password(
        uow,
        cache=runtime.cache,
        settings=settings,
        user_id=principal.user_id,
        password=body.password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/users/me/pin",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set or change my transaction PIN",
    responses=problems(
        {
            401: ["invalid_pin", "invalid_credentials"],
            404: ["user_not_found"],
            422: ["validation_error", "weak_pin", "current_pin_required"],
            423: ["pin_locked"],
            429: ["rate_limited"],
        }
    ),
)
async def set_my_pin(
    change: PinChange,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    secret: PinSecretDep,
) -> Response:
    """Set the PIN every payment is confirmed with: 4 or 6 digits, not one digit
    repeated nor a run like 1234. Changing it needs the current PIN, or the password."""
    try:
        await service.set_pin(
            uow,
            settings=settings,
            secret=secret,
            user_id=principal.user_id,
            change=change,
        )
    except WrongPinError:
        await uow.commit()  # what a lock stages (its e-mail) is kept
        raise
    await uow.commit()
    try:
        await runtime.cache.delete(service.user_cache_key(principal.user_id))  # pin_set
    except CacheUnavailableError:
        pass  # entries also expire on their own
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/payment-token",
    response_model=PaymentTokenResponse,
    summary="Confirm a payment with my PIN",
    responses=problems(
        {
            401: ["invalid_pin", "session_ended"],
            403: ["email_not_verified"],
            404: ["user_not_found"],
            409: ["pin_not_set"],
            422: ["validation_error", "invalid_amount", "invalid_receiver"],
            423: ["pin_locked"],
            503: ["service_unavailable"],
        }
    ),
)
async def issue_payment_token(
    body: PaymentTokenRequest, principal: CurrentPrincipal, desk: PinDeskDep
) -> PaymentTokenResponse:
    """A short-lived, single-use token bound to one debit (amount, receiver and
    Idempotency-Key), sent with it as ``X-Payment-Token``. Three wrong PINs in a row lock
    payments for a day, on every device, and e-mail the user. A user whose e-mail is not
    verified yet is refused (403 ``email_not_verified``) before the PIN is looked at."""
    return await service.issue_payment_token(desk, principal=principal, request=body)


async def _issue_payment_token_hot(
    state: State, principal: Principal, body: PaymentTokenRequest
) -> PaymentTokenResponse:
    return await service.issue_payment_token(state.pin_desk, principal=principal, request=body)


PAYMENT_TOKEN_ROUTE = HotRoute(
    method="POST",
    path="/api/auth/payment-token",
    body=PaymentTokenRequest,
    endpoint=_issue_payment_token_hot,
)
"""The payment token on the hot path (tijori.common.hot): every payment asks for one, and
the route above answers only what the hot path declines (malformed requests)."""
