"""Full KYC in the users service, in-process on SQLite: the request's strict checks, the
sandbox verifier's predictable verdicts, the loop that asks it outside the request, and
``user.kyc_updated``; the PAN never kept nor logged, only its masked form."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from tests.conftest import unique_email, unique_phone
from tests.unit.conftest import users_client
from tijori.common.db import UnitOfWork
from tijori.common.events import parse_event
from tijori.users.config import UsersSettings
from tijori.users.kyc import age_on, check_adult, check_pending
from tijori.users.models import OutboxMessage, User
from tijori.users.verifier import KycDecision, KycSubmission, SandboxKycVerifier, mask_pan

PASSWORD = "long enough"


@pytest.fixture
async def users(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = UsersSettings(
        data_dir=tmp_path,
        TIJORI_USERS_DATABASE_URL=sqlite_url("users"),
        kyc_poll_seconds=0.05,
        kyc_sandbox_seconds=0,
    )
    async with users_client(settings) as client:
        yield client


async def _signed_up(users: httpx.AsyncClient) -> dict[str, str]:
    email = unique_email()
    body = {"name": "Asha Rao", "email": email, "phone": unique_phone(), "password": PASSWORD}
    assert (await users.post("/api/users", json=body)).status_code == 201
    token = await users.post("/api/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _kyc_becomes(users: httpx.AsyncClient, auth: dict[str, str], state: str) -> Any:
    for _ in range(100):
        me = (await users.get("/api/users/me/kyc", headers=auth)).json()
        if me["kyc"] == state:
            return me
        await asyncio.sleep(0.05)
    raise AssertionError(f"KYC never became {state}: {me}")


def _request(pan: str = "ABCPR1234F", **fields: Any) -> dict[str, Any]:
    return {"pan": pan, "name": "Asha Rao", "date_of_birth": "1994-08-15"} | fields


async def _outboxed(users: httpx.AsyncClient) -> list[Any]:
    async with users.app.state.runtime.unit_of_work() as uow:  # type: ignore[attr-defined]
        rows = (await uow.session.scalars(select(OutboxMessage.body))).all()
    return [parse_event(row) for row in rows]


async def test_a_verified_pan_makes_the_user_full_kyc_through_an_event(
    users: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = await _signed_up(users)
    assert (await users.get("/api/users/me", headers=auth)).json()["kyc"] == "MINIMUM"
    asked = await users.post("/api/users/me/kyc", json=_request(), headers=auth)
    assert asked.status_code == 202, asked.text
    assert asked.json()["kyc"] == "PENDING" and asked.json()["pan_masked"] == "XXXXXX234F"
    done = await _kyc_becomes(users, auth, "FULL")
    assert done["reason"] is None
    assert (await users.get("/api/users/me", headers=auth)).json()["kyc"] == "FULL"
    again = await users.post("/api/users/me/kyc", json=_request(), headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "kyc_already_full"
    updates = [e for e in await _outboxed(users) if e.type == "user.kyc_updated"]
    assert [(e.payload.kyc, e.payload.pan_masked) for e in updates] == [("FULL", "XXXXXX234F")]
    # the PAN is nowhere: not in a log, not in an event, not in the users table
    assert "ABCPR1234F" not in caplog.text
    assert all("ABCPR1234F" not in e.model_dump_json() for e in await _outboxed(users))
    async with users.app.state.runtime.unit_of_work() as uow:  # type: ignore[attr-defined]
        stored = (await uow.session.scalars(select(User))).one()
    assert "ABCPR1234F" not in repr(
        [getattr(stored, column) for column in User.__table__.columns.keys()]  # noqa: SIM118
    )


@pytest.mark.parametrize(
    ("pan", "reason"), [("ABCPR0000F", "pan_not_found"), ("ABCPR9999F", "name_mismatch")]
)
async def test_the_sandbox_rejects_its_documented_pans_and_a_rejected_user_may_ask_again(
    users: httpx.AsyncClient, pan: str, reason: str
) -> None:
    auth = await _signed_up(users)
    assert (
        await users.post("/api/users/me/kyc", json=_request(pan), headers=auth)
    ).status_code == 202
    rejected = await _kyc_becomes(users, auth, "REJECTED")
    assert rejected["reason"] == reason
    assert (await users.post("/api/users/me/kyc", json=_request(), headers=auth)).status_code == 202
    await _kyc_becomes(users, auth, "FULL")


async def test_a_second_request_while_one_is_checked_is_refused(
    users: httpx.AsyncClient,
) -> None:
    slow = users.app.state.kyc_verifier  # type: ignore[attr-defined]
    slow.seconds = 60
    auth = await _signed_up(users)
    assert (await users.post("/api/users/me/kyc", json=_request(), headers=auth)).status_code == 202
    again = await users.post("/api/users/me/kyc", json=_request(), headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "kyc_pending"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"pan": "abcpr1234f"}, "invalid_pan"),
        ({"pan": "ABCPR1234"}, "invalid_pan"),
        ({"pan": "ABCP11234F"}, "invalid_pan"),
        ({"pan": " ABCPR1234F"}, "invalid_pan"),
        ({"pan": 1234}, "invalid_pan"),
        ({"pan": "ABCPR1234FF"}, "invalid_pan"),
        ({"name": "   "}, "invalid_name"),
        ({"name": "Asha R4o"}, "invalid_name"),
        ({"name": "Asha\u0000Rao"}, "invalid_name"),
        ({"date_of_birth": "15-08-1994"}, "invalid_date_of_birth"),
        ({"date_of_birth": "1994-02-30"}, "invalid_date_of_birth"),
        ({"date_of_birth": 19940815}, "invalid_date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "invalid_date_of_birth"),
        ({"date_of_birth": "1899-12-31"}, "invalid_date_of_birth"),
        ({"date_of_birth": f"{date.today().year - 10}-01-01"}, "invalid_date_of_birth"),
        ({"extra": "field"}, "validation_error"),
    ],
)
async def test_bad_kyc_requests_get_a_clear_error_and_change_nothing(
    users: httpx.AsyncClient, fields: dict[str, Any], code: str
) -> None:
    auth = await _signed_up(users)
    answer = await users.post("/api/users/me/kyc", json=_request(**fields), headers=auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert (await users.get("/api/users/me/kyc", headers=auth)).json()["kyc"] == "MINIMUM"


async def test_kyc_needs_a_token(users: httpx.AsyncClient) -> None:
    assert (await users.post("/api/users/me/kyc", json=_request())).status_code == 401


def test_an_adult_is_eighteen_in_india_today() -> None:
    settings = UsersSettings()
    # 15 Aug 2026 00:10 in India is still 14 August in UTC
    now = datetime(2026, 8, 14, 18, 40, tzinfo=UTC)
    check_adult(date(2008, 8, 15), settings=settings, now=now)
    with pytest.raises(PydanticCustomError):
        check_adult(date(2008, 8, 16), settings=settings, now=now)
    assert age_on(date(2000, 2, 29), date(2018, 2, 28)) == 17
    assert age_on(date(2000, 2, 29), date(2018, 3, 1)) == 18


async def test_the_sandbox_decides_by_the_digits_once_its_time_has_come() -> None:
    verifier = SandboxKycVerifier(seconds=0)
    born = date(1990, 1, 1)
    passed = await verifier.submit(KycSubmission(pan="ABCPR1234F", name="A", date_of_birth=born))
    assert "ABCPR1234F" not in passed and "1234" not in passed.split("_")[2]
    assert (await verifier.decision(passed)).verified  # type: ignore[union-attr]
    failed = await verifier.submit(KycSubmission(pan="ABCPR0000F", name="A", date_of_birth=born))
    verdict = await verifier.decision(failed)
    assert verdict is not None and (verdict.verified, verdict.reason) == (False, "pan_not_found")
    later = SandboxKycVerifier(seconds=60)
    pending = await later.submit(KycSubmission(pan="ABCPR1234F", name="A", date_of_birth=born))
    assert await later.decision(pending) is None
    assert mask_pan("ABCPR1234F") == "XXXXXX234F"
    assert "ABCPR1234F" not in repr(KycSubmission(pan="ABCPR1234F", name="A", date_of_birth=born))


async def test_the_verifier_is_asked_with_no_transaction_open_and_a_newer_check_wins(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> None:
    """The loop's verifier is another party: no row stays locked while it is asked, and
    an answer about a check the user replaced meanwhile changes nothing."""
    settings = UsersSettings(
        data_dir=tmp_path, TIJORI_USERS_DATABASE_URL=sqlite_url("users"), kyc_poll_seconds=3600
    )
    async with users_client(settings) as users:
        runtime = users.app.state.runtime  # type: ignore[attr-defined]
        first, second = await _signed_up(users), await _signed_up(users)
        async with runtime.unit_of_work() as uow:
            for number, user in enumerate((await uow.session.scalars(select(User))).all()):
                user.kyc, user.kyc_reference = "PENDING", f"ref-{number}"
                user.kyc_check_at = datetime(2026, 1, 1, tzinfo=UTC)
            await uow.commit()
        open_units = 0

        @contextlib.asynccontextmanager
        async def counted() -> AsyncIterator[UnitOfWork]:
            nonlocal open_units
            async with runtime.unit_of_work() as uow:
                open_units += 1
                try:
                    yield uow
                finally:
                    open_units -= 1

        class Verifier:
            asked: list[tuple[str, int]] = []

            async def submit(self, submission: KycSubmission) -> str:
                raise AssertionError("not asked to submit")

            async def decision(self, reference: str) -> KycDecision | None:
                self.asked.append((reference, open_units))
                if reference == "ref-1":  # the user asked again meanwhile
                    async with runtime.unit_of_work() as uow:
                        replaced = (
                            await uow.session.scalars(
                                select(User).where(User.kyc_reference == reference)
                            )
                        ).one()
                        replaced.kyc_reference = "ref-1-again"
                        await uow.commit()
                return KycDecision(verified=True)

        verifier = Verifier()
        decided = await check_pending(counted, verifier=verifier, poll_seconds=60)
        assert sorted(reference for reference, _ in verifier.asked) == ["ref-0", "ref-1"]
        assert all(units == 0 for _, units in verifier.asked), verifier.asked
        states = {
            (await users.get("/api/users/me/kyc", headers=auth)).json()["kyc"]
            for auth in (first, second)
        }
        assert len(decided) == 1 and states == {"FULL", "PENDING"}
