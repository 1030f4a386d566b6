"""HTTP routes of e-mail verification (users/verification.py has its rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from tijori.common.app import RuntimeDep, UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal
from tijori.common.body import StrictJsonRoute
from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.openapi import problems
from tijori.users.api import PinSecretDep, SettingsDep
from tijori.users.schemas import UserRead
from tijori.users.service import user_cache_key
from tijori.users.verification import InvalidCodeError, request_code, verify

router = APIRouter(prefix="/api/users/me/email", tags=["users"], route_class=StrictJsonRoute)


class EmailCode(BaseModel):
    """The code of the verification e-mail."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "042817"}]})

    code: Annotated[str, Field(min_length=1, max_length=16)]


class EmailCodeSent(BaseModel):
    """A new code is on its way."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "asha@example.com", "expires_in": 600, "resend_in": 60}]
        }
    )

    email: str = Field(description="Where the code was sent.")
    expires_in: int = Field(description="Seconds the code is good for.")
    resend_in: int = Field(description="Seconds until another code may be asked for.")


async def _forget_cached(cache: Cache, user_id: str) -> None:
    try:
        await cache.delete(user_cache_key(user_id))
    except CacheUnavailableError:
        pass  # entries also expire on their own


@router.post(
    "/verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EmailCodeSent,
    summary="E-mail me a new verification code",
    responses=problems(
        {404: ["user_not_found"], 409: ["email_already_verified"], 429: ["too_many_requests"]}
    ),
)
async def ask_for_code(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep, secret: PinSecretDep
) -> Any:
    """Send a new 6-digit code to the caller's e-mail address (the one before stops
    working). At most one a minute: sooner is 429 with ``Retry-After``."""
    user = await request_code(uow, settings=settings, secret=secret, user_id=principal.user_id)
    await uow.commit()
    return EmailCodeSent(
        email=user.email,
        expires_in=settings.email_code_ttl_seconds,
        resend_in=settings.email_code_resend_seconds,
    )


@router.post(
    "/verify",
    response_model=UserRead,
    summary="Verify my e-mail address with its code",
    responses=problems(
        {
            404: ["user_not_found"],
            410: ["code_expired"],
            422: ["validation_error", "invalid_code"],
        }
    ),
)
async def verify_email(
    body: EmailCode,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    secret: PinSecretDep,
) -> Any:
    """Prove the e-mail address with the code we sent: the user becomes
    ``email_verified``, may pay, and the promotional balance is credited. Five wrong
    codes, or ten minutes, and a new code is needed (410)."""
    try:
        user = await verify(
            uow, settings=settings, secret=secret, user_id=principal.user_id, code=body.code
        )
    except InvalidCodeError:
        await uow.commit()  # the wrong try stays counted
        raise
    await uow.commit()
    await _forget_cached(runtime.cache, user.id)
    return UserRead.model_validate(user)
