"""Users on the real stack: validation, duplicates under a race, tokens, access, the cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import unique_email, unique_phone
from tests.integration.conftest import Person, sign_up
from tests.integration.stack import Stack
from tijori.common.auth import TokenKeys
from tijori.common.config import CommonSettings


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Ravi Kumar",
        "email": unique_email(),
        "phone": unique_phone(),
        "password": "long enough",
    }
    return body | overrides


def _problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    assert {"type", "title", "status", "detail", "code"} <= problem.keys()
    return problem


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"email": "not-an-email"}, "invalid_email"),
        ({"email": ""}, "invalid_email"),
        ({"email": "a@" + "b" * 300 + ".com"}, "validation_error"),
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "phone"}, "invalid_phone"),
        ({"phone": "+1 202 555 0"}, "invalid_phone"),
        ({"password": "short"}, "weak_password"),
        ({"password": "x" * 200}, "weak_password"),
        ({"password": "iloveyou"}, "weak_password"),
        ({"password": "Password1"}, "weak_password"),
        ({"password": "         "}, "weak_password"),
        ({"password": "ravi\u0000kumar"}, "weak_password"),
        ({"email": "ravi.k@example.com", "password": "RAVI.K@example.com"}, "weak_password"),
        ({"phone": "+919812345678", "password": "98123 45678"}, "weak_password"),
        ({"name": "   "}, "invalid_name"),
        ({"name": "n" * 150}, "invalid_name"),
        ({"name": None}, "validation_error"),
        ({"name": 42}, "validation_error"),
        ({"admin": True}, "validation_error"),
        ({"authority": "ADMIN"}, "validation_error"),
    ],
)
async def test_sign_up_refuses_bad_fields_with_a_clear_code(
    gateway: httpx.AsyncClient, overrides: dict[str, Any], code: str
) -> None:
    _problem(await gateway.post("/api/users", json=_body(**overrides)), 422, code)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"name": "x"}' * 1000],
)
async def test_sign_up_refuses_malformed_bodies(gateway: httpx.AsyncClient, raw: bytes) -> None:
    answer = await gateway.post(
        "/api/users", content=raw, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_sign_up_normalises_phone_and_email(gateway: httpx.AsyncClient) -> None:
    digits = unique_phone()[3:]
    body = _body(email=f"  MiXeD.{unique_email()}  ".upper(), phone=f"{digits[:5]} {digits[5:]}")
    created = await gateway.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["phone"] == "+91" + digits
    assert user["email"] == body["email"].strip().lower()
    assert user["authority"] == "USER"
    assert "password" not in json.dumps(user) and "hash" not in json.dumps(user)


async def test_duplicate_email_or_phone_is_a_conflict(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    _problem(await gateway.post("/api/users", json=_body(email=person.email)), 409, "email_taken")
    _problem(await gateway.post("/api/users", json=_body(phone=person.phone)), 409, "phone_taken")
    local = person.phone.removeprefix("+91")
    _problem(await gateway.post("/api/users", json=_body(phone=local)), 409, "phone_taken")


async def test_addresses_differing_only_in_an_accent_are_two_accounts(
    gateway: httpx.AsyncClient, users_db: AsyncEngine
) -> None:
    # MariaDB's text collation took rť-a@x.co for rt-a@x.co: the second sign-up was 409,
    # and a log-in as one could find the other (issue 17); they compare byte for byte now
    tag = unique_email("").split("@")[0].strip("-")
    accented, plain = f"rť-a{tag}@x.co", f"RT-A{tag}@X.co"
    first = await gateway.post("/api/users", json=_body(email=accented))
    assert first.status_code == 201, first.text
    second = await gateway.post("/api/users", json=_body(email=plain))
    assert second.status_code == 201, second.text
    assert second.json()["email"] == plain.lower()
    for username, user in ((accented, first.json()), (plain.lower(), second.json())):
        login = await gateway.post(
            "/api/auth/token", data={"username": username, "password": _body()["password"]}
        )
        assert login.status_code == 200, login.text
        me = await gateway.get(
            "/api/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.json()["id"] == user["id"]
    # a case of the plain one's ASCII letters is the same account
    again = await gateway.post("/api/users", json=_body(email=f"rt-A{tag}@x.CO"))
    _problem(again, 409, "email_taken")
    async with users_db.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT email_normalized FROM users WHERE id IN (:a, :b) ORDER BY email"),
                {"a": first.json()["id"], "b": second.json()["id"]},
            )
        ).scalars()
        normalised = sorted(bytes(v).decode() if isinstance(v, bytes) else v for v in stored)
    assert normalised == sorted([accented, plain.lower()])


async def test_concurrent_sign_ups_with_one_email_create_exactly_one_user(
    gateway: httpx.AsyncClient, users_db: AsyncEngine
) -> None:
    email = unique_email("race")
    answers = await asyncio.gather(
        *(gateway.post("/api/users", json=_body(email=email)) for _ in range(8))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"email_taken"}
    async with users_db.connect() as connection:
        count = (
            await connection.execute(
                text("SELECT COUNT(*) FROM users WHERE email = :e"), {"e": email}
            )
        ).scalar_one()
    assert count == 1


async def test_log_in_by_email_or_phone_as_form_or_json(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    for username in (
        person.email,
        person.phone,
        person.phone.removeprefix("+91"),
        person.email.upper(),
    ):
        answer = await gateway.post(
            "/api/auth/token", data={"username": username, "password": person.password}
        )
        assert answer.status_code == 200, (username, answer.text)
        token = answer.json()
        assert token["token_type"] == "bearer" and token["expires_in"] > 0
    answer = await gateway.post(
        "/api/auth/token", json={"username": person.email, "password": person.password}
    )
    assert answer.status_code == 200
    me = await gateway.get(
        "/api/users/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert me.json()["id"] == person.id


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    wrong = await gateway.post(
        "/api/auth/token", data={"username": person.email, "password": "nope-nope"}
    )
    unknown = await gateway.post(
        "/api/auth/token", data={"username": unique_email("ghost"), "password": "nope-nope"}
    )
    assert (
        _problem(wrong, 401, "invalid_credentials")["detail"]
        == _problem(unknown, 401, "invalid_credentials")["detail"]
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "x"}, {"password": "x"}, {"username": "", "password": ""}],
)
async def test_log_in_without_credentials_is_422(
    gateway: httpx.AsyncClient, body: dict[str, str]
) -> None:
    answer = await gateway.post("/api/auth/token", data=body)
    assert answer.status_code == 422, answer.text
    answer = await gateway.post("/api/auth/token", json=body)
    assert answer.status_code == 422, answer.text


async def test_repeated_failed_log_ins_are_rate_limited(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    codes = []
    for _ in range(7):
        answer = await gateway.post(
            "/api/auth/token", data={"username": person.email, "password": "guess-guess"}
        )
        codes.append(answer.status_code)
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    # while limited, even the right password waits
    limited = await gateway.post(
        "/api/auth/token", data={"username": person.email, "password": person.password}
    )
    problem = _problem(limited, 429, "too_many_attempts")
    assert limited.headers["retry-after"].isdigit() and problem["status"] == 429


async def test_every_spelling_of_one_account_shares_its_log_in_limit(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    """Failures count per account, not per username as typed (issue 17)."""
    national = person.phone.removeprefix("+91")
    spellings = [
        f"0{national}",
        f"+91-{national[:5]}-{national[5:]}",
        f"(+91) {national}",
        "".join(chr(ord(digit) + 0xFEE0) for digit in national),  # full-width digits
        person.email.upper(),
    ]
    codes = []
    for spelling in spellings:
        answer = await gateway.post(
            "/api/auth/token", data={"username": spelling, "password": "guess-guess"}
        )
        codes.append(answer.status_code)
    assert codes == [401] * 5
    limited = await gateway.post(
        "/api/auth/token", data={"username": person.phone, "password": person.password}
    )
    _problem(limited, 429, "too_many_attempts")


async def test_concurrent_wrong_passwords_get_the_limit_and_then_429(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    answers = await asyncio.gather(
        *(
            gateway.post(
                "/api/auth/token", data={"username": person.email, "password": f"guess-{n:04d}"}
            )
            for n in range(30)
        )
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [401] * 5 + [429] * 25


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _keys(stack: Stack) -> TokenKeys:
    return TokenKeys.from_settings(CommonSettings(data_dir=Path(stack.env["TIJORI_DATA_DIR"])))


async def test_bad_tokens_are_refused_with_401(
    stack: Stack, gateway: httpx.AsyncClient, person: Person
) -> None:
    keys = _keys(stack)
    expired = keys.issue(user_id=person.id, authority="USER", ttl=timedelta(seconds=-60))
    header, payload, signature = person.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{_b64(claims | {'auth': 'ADMIN'})}.{signature}"
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    foreign = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    public_pem = keys.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs256_header = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}"
    hs256_signature = hmac.new(public_pem, hs256_header.encode(), hashlib.sha256).digest()
    hmac_with_public_key = (
        f"{hs256_header}.{base64.urlsafe_b64encode(hs256_signature).decode().rstrip('=')}"
    )
    cases = {
        "expired": (expired, "token_expired"),
        "tampered": (tampered, "invalid_token"),
        "alg none": (unsigned, "invalid_token"),
        "foreign key": (foreign, "invalid_token"),
        "HS256 with the public key": (hmac_with_public_key, "invalid_token"),
        "garbage": ("not.a.token", "invalid_token"),
        "empty": ("", "unauthorized"),
    }
    for name, (token, code) in cases.items():
        for path in ("/api/users/me", "/api/wallets/me", "/api/notifications"):
            answer = await gateway.get(path, headers={"Authorization": f"Bearer {token}".strip()})
            assert answer.status_code == 401, (name, path, answer.text)
            assert answer.json()["code"] == code, (name, path)
    assert (
        await gateway.get("/api/users/me", headers={"Authorization": person.token})
    ).status_code == 401
    assert (await gateway.get("/api/users/me", headers=person.auth)).status_code == 200


async def test_a_user_cannot_read_another_user_but_an_admin_can(
    stack: Stack, gateway: httpx.AsyncClient, person: Person
) -> None:
    other = await sign_up(gateway)
    answer = await gateway.get(f"/api/users/{other.id}", headers=person.auth)
    _problem(answer, 404, "user_not_found")
    ghost = await gateway.get(
        "/api/users/00000000-0000-0000-0000-00000000beef", headers=person.auth
    )
    # the same answer as for a user who exists, but for the request it names
    assert ghost.json() == answer.json() | {
        "detail": ghost.json()["detail"],
        "correlation_id": ghost.headers["X-Request-ID"],
    }
    assert (await gateway.get(f"/api/users/{person.id}", headers=person.auth)).status_code == 200
    assert (await gateway.get(f"/api/users/{other.id}")).status_code == 401

    granted = stack.tijori("grant-admin", person.email)
    assert granted.returncode == 0, granted.stderr
    admin_login = await gateway.post(
        "/api/auth/token", data={"username": person.email, "password": person.password}
    )
    admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
    read = await gateway.get(f"/api/users/{other.id}", headers=admin)
    assert read.status_code == 200 and read.json()["email"] == other.email
    assert (await gateway.get("/api/users/me", headers=admin)).json()["authority"] == "ADMIN"


async def test_get_user_is_cache_aside_in_redis_and_a_change_invalidates_it(
    gateway: httpx.AsyncClient, person: Person, redis_client: redis.Redis, users_db: AsyncEngine
) -> None:
    key = f"tijori:user:{person.id}"
    await redis_client.delete(key)
    first = await gateway.get("/api/users/me", headers=person.auth)
    assert first.status_code == 200
    cached = await redis_client.get(key)
    assert cached is not None and json.loads(cached)["name"] == person.name

    # change the row behind the service's back: the next read must come from Redis
    async with users_db.begin() as connection:
        await connection.execute(
            text("UPDATE users SET name = 'Changed Behind' WHERE id = :id"), {"id": person.id}
        )
    second = await gateway.get("/api/users/me", headers=person.auth)
    assert second.json()["name"] == person.name

    changed = await gateway.patch("/api/users/me", headers=person.auth, json={"name": "New Name"})
    assert changed.status_code == 200 and changed.json()["name"] == "New Name"
    assert await redis_client.get(key) is None
    third = await gateway.get("/api/users/me", headers=person.auth)
    assert third.json()["name"] == "New Name"
    assert json.loads(await redis_client.get(key) or b"{}")["name"] == "New Name"
    _problem(
        await gateway.patch("/api/users/me", headers=person.auth, json={"name": ""}),
        422,
        "invalid_name",
    )
    _problem(
        await gateway.patch(
            "/api/users/me", headers=person.auth, json={"name": "x", "email": "a@b.co"}
        ),
        422,
        "validation_error",
    )
