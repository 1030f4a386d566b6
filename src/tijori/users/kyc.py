"""Full KYC: a user asks with a PAN, the verifier checks it outside the request, and a
verified user becomes full-KYC through ``user.kyc_updated`` (wallets then applies the
full-KYC limits; docs/limits.md).

States: MINIMUM (every new user) → PENDING (submitted) → FULL or REJECTED; a REJECTED
user may ask again. The PAN goes to the verifier and nowhere else: Tijori keeps its
masked form (``XXXXXX234F``) and the verifier's reference, and no log line names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from tijori.common.app import RuntimeDep, ServiceRuntime, UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal
from tijori.common.body import StrictJsonRoute
from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.clock import utcnow, woken
from tijori.common.db import UnitOfWork, retry_transient
from tijori.common.errors import ConflictError, NotFoundError, ProblemError
from tijori.common.events import UserKycUpdated
from tijori.common.metrics import KYC_CHECKS, count_after_commit
from tijori.common.openapi import problems
from tijori.common.outbox import add_to_outbox
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage, User
from tijori.users.repository import UserRepository
from tijori.users.schemas import Name
from tijori.users.service import user_cache_key
from tijori.users.verifier import (
    KycDecision,
    KycSubmission,
    KycVerifier,
    KycVerifierUnavailableError,
    SandboxKycVerifier,
    mask_pan,
)

log = logging.getLogger(__name__)

PAN = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")
# a name as a PAN card prints it: letters, spaces, dots, apostrophes and hyphens
PAN_NAME = re.compile(r"^[A-Za-z][A-Za-z .'-]*$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OLDEST_BIRTH = date(1900, 1, 1)


class KycUnavailableError(ProblemError):
    status, code = 503, "kyc_unavailable"


def _pan(value: object) -> str:
    if not isinstance(value, str) or not PAN.fullmatch(value):
        raise PydanticCustomError(
            "invalid_pan", "a PAN is five capital letters, four digits and a capital letter"
        )
    return value


def _pan_name(value: str) -> str:
    if not PAN_NAME.fullmatch(value):
        raise PydanticCustomError(
            "invalid_name", "the name as on the PAN: letters, spaces, dots, ' and - only"
        )
    return value


def _birth_date(value: object) -> date:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise PydanticCustomError("invalid_date_of_birth", "a date of birth is YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise PydanticCustomError("invalid_date_of_birth", "no such date") from error


def age_on(born: date, today: date) -> int:
    """Whole years from ``born`` to ``today`` (a 29 February birthday counts on 1 March)."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


Pan = Annotated[str, BeforeValidator(_pan), Field(examples=["ABCPE1234F"])]
BirthDate = Annotated[date, BeforeValidator(_birth_date)]


class KycRequest(BaseModel):
    """Ask for full KYC: the PAN, the name as on it and the date of birth (an adult's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"pan": "ABCPR1234F", "name": "Asha Rao", "date_of_birth": "1994-08-15"}]
        },
    )

    pan: Pan
    name: Annotated[Name, AfterValidator(_pan_name)]
    date_of_birth: BirthDate


class KycRead(BaseModel):
    """Where a user's KYC stands; of the PAN only its masked form."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "kyc": "PENDING",
                    "pan_masked": "XXXXXX234F",
                    "reason": None,
                    "updated_at": "2025-01-15T11:00:00Z",
                },
                {
                    "kyc": "FULL",
                    "pan_masked": "XXXXXX234F",
                    "reason": None,
                    "updated_at": "2025-01-15T11:00:02Z",
                },
            ]
        },
    )

    kyc: Literal["MINIMUM", "PENDING", "FULL", "REJECTED"]
    pan_masked: str | None = Field(validation_alias="kyc_pan_masked")
    # why a check was REJECTED: a stable code of the verifier's
    reason: str | None = Field(validation_alias="kyc_reason")
    updated_at: datetime | None = Field(validation_alias="kyc_updated_at")


def create_verifier(settings: UsersSettings) -> KycVerifier:
    """The KYC verifier this service asks: the sandbox (no real one is wired yet)."""
    return SandboxKycVerifier(seconds=settings.kyc_sandbox_seconds)


def check_adult(born: date, *, settings: UsersSettings, now: datetime | None = None) -> None:
    """Refuse a date of birth in the future, before 1900 or of someone under age."""
    today = (now or utcnow()).astimezone(ZoneInfo(settings.kyc_timezone)).date()
    if born > today:
        raise PydanticCustomError("invalid_date_of_birth", "a date of birth is not in the future")
    if born < OLDEST_BIRTH:
        raise PydanticCustomError("invalid_date_of_birth", "a date of birth is after 1900")
    if age_on(born, today) < settings.kyc_min_age_years:
        raise PydanticCustomError(
            "invalid_date_of_birth",
            f"full KYC is for adults: {settings.kyc_min_age_years} years or older",
        )


async def request_kyc(
    uow: UnitOfWork,
    *,
    verifier: KycVerifier,
    user_id: str,
    request: KycRequest,
) -> User:
    """Hand the details to the verifier and make the user PENDING (the caller commits).

    Refused while a check is under way (409 ``kyc_pending``) or once FULL (409
    ``kyc_already_full``); a REJECTED user may ask again."""
    user = await UserRepository(uow).lock(user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    if user.kyc == "PENDING":
        raise ConflictError("a KYC check is under way: wait for its result", code="kyc_pending")
    if user.kyc == "FULL":
        raise ConflictError("you are full-KYC already", code="kyc_already_full")
    submission = KycSubmission(
        pan=request.pan, name=request.name, date_of_birth=request.date_of_birth
    )
    try:
        reference = await verifier.submit(submission)
    except KycVerifierUnavailableError as error:
        raise KycUnavailableError(
            "the KYC verifier did not answer; nothing was changed, try again",
            headers={"Retry-After": "5"},
        ) from error
    now = utcnow()
    user.kyc = "PENDING"
    user.kyc_pan_masked = mask_pan(request.pan)
    user.kyc_reference = reference
    user.kyc_reason = None
    user.kyc_check_at = now
    user.kyc_updated_at = now
    await uow.session.flush()
    count_after_commit(uow, KYC_CHECKS.labels(outcome="SUBMITTED"))
    log.info("user %s asked for full KYC (PAN %s)", user.id, user.kyc_pan_masked)
    return user


async def check_pending(
    unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    *,
    verifier: KycVerifier,
    poll_seconds: float,
    limit: int = 100,
) -> list[str]:
    """Ask the verifier about every PENDING check that is due, and record each answer;
    the ids of the users decided.

    The verifier is another party and may be slow, so it is asked with no transaction
    open and no row locked; each answer is then recorded in a short transaction of its
    own, under the user's lock, and only if the check is still the one that was asked
    about: a decided one makes the user FULL or REJECTED and stages ``user.kyc_updated``
    with it, an undecided one is asked again ``poll_seconds`` later."""
    async with unit_of_work() as uow:
        due = await UserRepository(uow).kyc_checks_due(utcnow(), limit=limit)
    decided: list[str] = []
    for user_id, reference in due:
        try:
            verdict = await verifier.decision(reference)
        except KycVerifierUnavailableError:
            verdict = None

        answer = functools.partial(
            _record_answer, unit_of_work, user_id, reference, verdict, poll_seconds
        )
        if await retry_transient(answer, what="KYC verdict"):
            decided.append(user_id)
    return decided


async def _record_answer(
    unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    user_id: str,
    reference: str,
    verdict: KycDecision | None,
    poll_seconds: float,
) -> bool:
    """Record the verifier's answer about ``reference`` and commit, if the user's check
    is still that one; whether it decided the check."""
    async with unit_of_work() as uow:
        user = await UserRepository(uow).lock(user_id)
        if user is None or user.kyc != "PENDING" or user.kyc_reference != reference:
            return False  # decided, or asked again, meanwhile
        _record_verdict(uow, user, verdict, poll_seconds=poll_seconds)
        await uow.commit()
    return verdict is not None


def _record_verdict(
    uow: UnitOfWork, user: User, verdict: KycDecision | None, *, poll_seconds: float
) -> None:
    now = utcnow()
    if verdict is None:
        user.kyc_check_at = now + timedelta(seconds=poll_seconds)
        return
    user.kyc = "FULL" if verdict.verified else "REJECTED"
    user.kyc_reason = verdict.reason
    user.kyc_reference = None
    user.kyc_check_at = None
    user.kyc_updated_at = now
    add_to_outbox(
        uow,
        OutboxMessage,
        UserKycUpdated(
            user_id=user.id,
            kyc="FULL" if verdict.verified else "REJECTED",
            reason=verdict.reason,
            pan_masked=user.kyc_pan_masked,
            name=user.name,
            email=user.email,
        ),
        key=user.id,
    )
    count_after_commit(uow, KYC_CHECKS.labels(outcome=user.kyc))
    log.info("user %s KYC %s (%s)", user.id, user.kyc, verdict.reason or "verified")


async def _forget_cached(cache: Cache, user_ids: list[str]) -> None:
    for user_id in user_ids:
        with contextlib.suppress(CacheUnavailableError):
            await cache.delete(user_cache_key(user_id))


def register_kyc_loop(runtime: ServiceRuntime, settings: UsersSettings) -> None:
    """Build the verifier and add the loop that asks it about checks under way."""
    verifier = create_verifier(settings)
    wake = asyncio.Event()
    runtime.components["kyc_verifier"] = verifier
    runtime.components["kyc_wake"] = wake

    async def check_forever() -> None:
        async def once() -> list[str]:
            return await check_pending(
                runtime.unit_of_work, verifier=verifier, poll_seconds=settings.kyc_poll_seconds
            )

        while True:
            decided = await retry_transient(once, what="KYC check")
            await _forget_cached(runtime.cache, decided)
            wake.clear()
            await woken(wake, settings.kyc_poll_seconds)

    runtime.workers.append(check_forever)


router = APIRouter(prefix="/api/users/me", tags=["users"], route_class=StrictJsonRoute)


@router.post(
    "/kyc",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=KycRead,
    summary="Upgrade to full KYC",
    responses=problems(
        {
            404: ["user_not_found"],
            409: ["kyc_pending", "kyc_already_full"],
            422: ["validation_error", "invalid_pan", "invalid_name", "invalid_date_of_birth"],
            503: ["kyc_unavailable"],
        }
    ),
)
async def ask_for_kyc(
    body: KycRequest,
    request: Request,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
) -> Any:
    """Send the PAN, the name on it and the date of birth to the KYC check: the user is
    PENDING at once, then FULL (the full-KYC limits apply) or REJECTED, moments later.
    The sandbox verifies every PAN but those whose digits are 0000 or 9999."""
    settings = runtime.settings
    assert isinstance(settings, UsersSettings)
    try:
        check_adult(body.date_of_birth, settings=settings)
    except PydanticCustomError as error:
        raise RequestValidationError(
            [{"type": error.type, "loc": ("body", "date_of_birth"), "msg": error.message()}]
        ) from error
    user = await request_kyc(
        uow,
        verifier=request.app.state.kyc_verifier,
        user_id=principal.user_id,
        request=body,
    )
    await uow.commit()
    await _forget_cached(runtime.cache, [user.id])
    request.app.state.kyc_wake.set()
    return KycRead.model_validate(user)


@router.get(
    "/kyc",
    response_model=KycRead,
    summary="My KYC",
    responses=problems({404: ["user_not_found"]}),
)
async def read_my_kyc(principal: CurrentPrincipal, uow: UnitOfWorkDep) -> Any:
    """Where the caller's KYC stands."""
    user = await UserRepository(uow).get(principal.user_id)
    if user is None:
        raise NotFoundError("no such user", code="user_not_found")
    return KycRead.model_validate(user)
