"""E-mail verification, the sign-up limit and normalised e-mail addresses (issue 17), on
the embedded default in process: the users app on SQLite with the in-process cache, the
wallets rules on SQLite, and the notification that carries the code."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import unique_email, unique_phone
from tests.unit.conftest import users_client
from tijori.common.cache import MemoryCache
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.errors import RateLimitedError
from tijori.common.events import EmailCodeIssued, UserCreated, UserEmailVerified, parse_event
from tijori.common.phone import normalize_email, normalize_handle
from tijori.notifications.messages import email_code, shown_message
from tijori.users.config import UsersSettings
from tijori.users.models import OutboxMessage, User
from tijori.users.verification import SignupLimiter, code_digest, new_code
from tijori.wallets import service as wallets
from tijori.wallets.models import LedgerEntry
from tijori.wallets.models import OutboxMessage as WalletsOutbox

PASSWORD = "long enough"
PIN = "482916"


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Asha@Example.COM", "asha@example.com"),
        ("  asha@example.com ", "asha@example.com"),
        ("rť-a@x.co", "rť-a@x.co"),
        ("RŤ-A@X.CO", "rŤ-a@x.co"),  # only ASCII letters are folded
        ("rt\u030c-a@x.co", "rť-a@x.co"),  # NFC: t + combining caron is ť
        ("\uff52t-a@x.co", "\uff52t-a@x.co"),  # a full-width r stays one: no NFKC
    ],
)
def test_e_mail_addresses_normalise_ascii_case_and_keep_every_other_character(
    typed: str, normalised: str
) -> None:
    assert normalize_email(typed) == normalised


def test_an_accented_address_is_never_the_plain_one() -> None:
    assert normalize_email("rť-a@x.co") != normalize_email("rt-a@x.co")
    assert normalize_handle("Rť-A@X.co") == "rť-a@x.co"


def test_codes_are_six_digits_and_kept_as_a_keyed_hash_of_their_user() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(codes) > 150
    digest = code_digest(b"secret", user_id="u1", code="042817")
    assert "042817" not in digest and len(digest) == 64
    assert digest != code_digest(b"secret", user_id="u2", code="042817")
    assert digest != code_digest(b"another", user_id="u1", code="042817")


def test_the_code_mail_has_the_code_as_its_only_six_digit_number_and_the_app_hides_it() -> None:
    issued = EmailCodeIssued(
        user_id="u", name="Asha 123456 Rao", email="a@x.co", code="042817", expires_in_seconds=600
    )
    mail = email_code(issued.model_copy(update={"name": "Asha Rao"}))
    assert re.findall(r"\b[0-9]{6}\b", mail.body) == ["042817"]
    assert "10 minutes" in mail.body and "042817" not in mail.subject
    assert "042817" not in shown_message(mail.kind, mail.body)
    assert shown_message("WELCOME", "call 123456") == "call 123456"


async def test_the_sign_up_limit_counts_each_address_an_hour_and_zero_turns_it_off() -> None:
    cache = MemoryCache()
    limiter = SignupLimiter(cache, UsersSettings(signup_limit_per_hour=2))
    now = utcnow().replace(minute=59, second=0, microsecond=0)
    await limiter.take("198.51.100.7", now=now)
    await limiter.take("198.51.100.7", now=now)
    await limiter.take("198.51.100.8", now=now)  # another address has its own count
    with pytest.raises(RateLimitedError) as refused:
        await limiter.take("198.51.100.7", now=now)
    assert refused.value.code == "too_many_requests"
    assert refused.value.headers == {"Retry-After": "60"}  # until the hour's window ends
    await limiter.take("198.51.100.7", now=now + timedelta(minutes=1))  # a new window
    off = SignupLimiter(cache, UsersSettings(signup_limit_per_hour=0))
    for _ in range(50):
        await off.take("198.51.100.7", now=now)


# --- the users app ---------------------------------------------------------------------


def _settings(tmp_path: Path, url: str, **overrides: Any) -> UsersSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "TIJORI_USERS_DATABASE_URL": url,
        "signup_limit_per_hour": 0,
    }
    return UsersSettings(**(values | overrides))


@pytest.fixture
async def users(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with users_client(_settings(tmp_path, sqlite_url("users"))) as client:
        yield client


async def _sign_up(users: httpx.AsyncClient, email: str | None = None) -> dict[str, Any]:
    """Sign up and log in; the person's id, e-mail and auth header."""
    email = email or unique_email()
    body = {"name": "Asha", "email": email, "phone": unique_phone(), "password": PASSWORD}
    created = await users.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    token = await users.post("/api/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {
        "id": created.json()["id"],
        "email": created.json()["email"],
        "auth": {"Authorization": f"Bearer {token.json()['access_token']}"},
        "user": created.json(),
    }


async def _events(users: httpx.AsyncClient, user_id: str, event_type: str) -> list[Any]:
    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    events = [parse_event(row.body) for row in rows]
    return [e.payload for e in events if e.type == event_type and e.payload.user_id == user_id]


async def _latest_code(users: httpx.AsyncClient, user_id: str) -> str:
    """The code notifications would e-mail: the latest ``user.email_code_issued``."""
    issued = await _events(users, user_id, "user.email_code_issued")
    assert issued, "no code was issued"
    code: str = issued[-1].code
    return code


async def _user_row(users: httpx.AsyncClient, user_id: str) -> User:
    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        user = await uow.session.get(User, user_id)
        assert user is not None
        return user


async def _payment_token(users: httpx.AsyncClient, person: dict[str, Any]) -> httpx.Response:
    return await users.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": "10.00", "receiver": "+919876543210", "idempotency_key": "k"},
        headers=person["auth"],
    )


async def test_sign_up_sends_a_code_whose_hash_alone_is_kept_and_verifying_credits_nothing_yet(
    users: httpx.AsyncClient,
) -> None:
    person = await _sign_up(users)
    assert person["user"]["email_verified"] is False
    [created] = await _events(users, person["id"], "user.created")
    assert created.verification_required
    code = await _latest_code(users, person["id"])
    row = await _user_row(users, person["id"])
    assert row.email_code_hash is not None and code not in row.email_code_hash
    assert row.email_code_expires_at is not None
    assert timedelta(minutes=9) < row.email_code_expires_at - utcnow() <= timedelta(minutes=10)

    verified = await users.post(
        "/api/users/me/email/verify", json={"code": code}, headers=person["auth"]
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    me = await users.get("/api/users/me", headers=person["auth"])
    assert me.json()["email_verified"] is True
    [event] = await _events(users, person["id"], "user.email_verified")
    assert event.email == person["email"]
    # verifying again answers the verified user and announces nothing more
    again = await users.post(
        "/api/users/me/email/verify", json={"code": code}, headers=person["auth"]
    )
    assert again.status_code == 200 and again.json()["email_verified"] is True
    assert len(await _events(users, person["id"], "user.email_verified")) == 1
    asked = await users.post("/api/users/me/email/verification", headers=person["auth"])
    assert (asked.status_code, asked.json()["code"]) == (409, "email_already_verified")


async def test_five_wrong_codes_use_the_code_up(users: httpx.AsyncClient) -> None:
    person = await _sign_up(users)
    code = await _latest_code(users, person["id"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1, 0):
        answer = await users.post(
            "/api/users/me/email/verify", json={"code": wrong}, headers=person["auth"]
        )
        assert answer.status_code == 422, answer.text
        assert (answer.json()["code"], answer.json()["attempts_left"]) == ("invalid_code", left)
    right = await users.post(
        "/api/users/me/email/verify", json={"code": code}, headers=person["auth"]
    )
    assert (right.status_code, right.json()["code"]) == (410, "code_expired")
    malformed = await users.post(
        "/api/users/me/email/verify", json={"code": "12ab"}, headers=person["auth"]
    )
    assert malformed.status_code == 410  # nothing left to check


async def test_a_malformed_code_is_refused_without_costing_a_try(
    users: httpx.AsyncClient,
) -> None:
    person = await _sign_up(users)
    answer = await users.post(
        "/api/users/me/email/verify", json={"code": "12 34"}, headers=person["auth"]
    )
    assert (answer.status_code, answer.json()["attempts_left"]) == (422, 5)


async def test_an_expired_code_is_gone_and_a_new_one_is_sent_at_most_once_a_minute(
    users: httpx.AsyncClient,
) -> None:
    person = await _sign_up(users)
    first = await _latest_code(users, person["id"])
    soon = await users.post("/api/users/me/email/verification", headers=person["auth"])
    assert (soon.status_code, soon.json()["code"]) == (429, "too_many_requests")
    assert 55 <= int(soon.headers["Retry-After"]) <= 60

    runtime = users.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(
            update(User)
            .where(User.id == person["id"])
            .values(
                email_code_expires_at=utcnow() - timedelta(seconds=1),
                email_code_sent_at=utcnow() - timedelta(minutes=11),
            )
        )
        await uow.commit()
    expired = await users.post(
        "/api/users/me/email/verify", json={"code": first}, headers=person["auth"]
    )
    assert (expired.status_code, expired.json()["code"]) == (410, "code_expired")

    sent = await users.post("/api/users/me/email/verification", headers=person["auth"])
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"email": person["email"], "expires_in": 600, "resend_in": 60}
    second = await _latest_code(users, person["id"])
    if second != first:  # one in a million they are equal
        stale = await users.post(
            "/api/users/me/email/verify", json={"code": first}, headers=person["auth"]
        )
        assert stale.status_code == 422
    ok = await users.post(
        "/api/users/me/email/verify", json={"code": second}, headers=person["auth"]
    )
    assert ok.status_code == 200, ok.text


async def test_an_unverified_user_is_refused_a_payment_token_before_the_pin_counts(
    users: httpx.AsyncClient,
) -> None:
    person = await _sign_up(users)
    assert (
        await users.put("/api/users/me/pin", json={"pin": PIN}, headers=person["auth"])
    ).status_code == 204
    for _ in range(4):  # more than the three wrong PINs that would lock payments
        refused = await _payment_token(users, person)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "email_not_verified"
    code = await _latest_code(users, person["id"])
    assert (
        await users.post("/api/users/me/email/verify", json={"code": code}, headers=person["auth"])
    ).status_code == 200
    granted = await _payment_token(users, person)
    assert granted.status_code == 200, granted.text


async def test_with_verification_off_no_code_is_sent_and_an_unverified_user_pays(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> None:
    settings = _settings(tmp_path, sqlite_url("users"), require_email_verification=False)
    async with users_client(settings) as users:
        person = await _sign_up(users)
        [created] = await _events(users, person["id"], "user.created")
        assert not created.verification_required
        assert await _events(users, person["id"], "user.email_code_issued") == []
        await users.put("/api/users/me/pin", json={"pin": PIN}, headers=person["auth"])
        assert (await _payment_token(users, person)).status_code == 200
        # a code can still be asked for, and verifies
        assert (
            await users.post("/api/users/me/email/verification", headers=person["auth"])
        ).status_code == 202


async def test_sign_ups_past_the_limit_are_refused_with_retry_after(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> None:
    settings = _settings(tmp_path, sqlite_url("users"), signup_limit_per_hour=2)
    async with users_client(settings) as users:
        await _sign_up(users)
        await _sign_up(users)
        body = {"name": "A", "email": unique_email(), "phone": unique_phone(), "password": PASSWORD}
        refused = await users.post("/api/users", json=body)
        assert (refused.status_code, refused.json()["code"]) == (429, "too_many_requests")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600


async def test_addresses_that_differ_in_an_accent_are_two_accounts(
    users: httpx.AsyncClient,
) -> None:
    accented = await _sign_up(users, "rť-a@x.co")
    plain = await _sign_up(users, "RT-A@X.co")
    assert accented["id"] != plain["id"] and plain["email"] == "rt-a@x.co"
    taken = await users.post(
        "/api/users",
        json={"name": "B", "email": "Rt-A@x.CO", "phone": unique_phone(), "password": PASSWORD},
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    me = await users.get("/api/users/me", headers=plain["auth"])
    assert me.json()["id"] == plain["id"]


# --- wallets: the promotion waits for the verification ---------------------------------


async def test_the_promotion_is_credited_on_verification_once(
    wallets_units: UnitOfWorkFactory,
) -> None:
    created = UserCreated(
        user_id="asha", name="Asha", email="a@x.co", phone="+919876500001",
        verification_required=True,
    )  # fmt: skip
    verified = UserEmailVerified(user_id="asha", name="Asha", email="a@x.co", phone="+919876500001")
    async with wallets_units() as uow:
        wallet = await wallets.open_wallet(uow, user=created, promo_paise=10_000)
        await uow.commit()
    assert wallet.balance_paise == 0
    for _ in range(2):  # the event delivered again credits nothing more
        async with wallets_units() as uow:
            wallet = await wallets.credit_promotion(uow, verified=verified, promo_paise=10_000)
            await uow.commit()
    async with wallets_units() as uow:
        entries = (
            await uow.session.scalars(
                select(LedgerEntry).where(LedgerEntry.reference == "promo:asha")
            )
        ).all()
        events = [
            parse_event(row.body).type
            for row in (await uow.session.scalars(select(WalletsOutbox))).all()
        ]
    assert sorted(entry.amount_paise for entry in entries) == [-10_000, 10_000]
    assert events == ["wallet.created", "wallet.promotion_credited"]


async def test_a_verification_before_the_sign_up_event_opens_the_wallet_with_it(
    wallets_units: UnitOfWorkFactory,
) -> None:
    verified = UserEmailVerified(user_id="ravi", name="Ravi", email="r@x.co", phone="+919876500002")
    async with wallets_units() as uow:
        wallet = await wallets.credit_promotion(uow, verified=verified, promo_paise=10_000)
        await uow.commit()
    assert wallet.balance_paise == 10_000
    late = UserCreated(
        user_id="ravi", name="Ravi", email="r@x.co", phone="+919876500002",
        verification_required=True,
    )  # fmt: skip
    async with wallets_units() as uow:
        again = await wallets.open_wallet(uow, user=late, promo_paise=10_000)
        await uow.commit()
    assert again.id == wallet.id and again.balance_paise == 10_000


async def test_without_verification_the_wallet_opens_with_the_promotion_as_before(
    wallets_units: UnitOfWorkFactory,
) -> None:
    created = UserCreated(user_id="old", name="Old", email="o@x.co", phone="+919876500003")
    async with wallets_units() as uow:
        wallet = await wallets.open_wallet(uow, user=created, promo_paise=10_000)
        await uow.commit()
    assert wallet.balance_paise == 10_000
    verified = UserEmailVerified(user_id="old", name="Old", email="o@x.co", phone="+919876500003")
    async with wallets_units() as uow:
        wallet = await wallets.credit_promotion(uow, verified=verified, promo_paise=10_000)
        await uow.commit()
    assert wallet.balance_paise == 10_000  # credited once, at opening
