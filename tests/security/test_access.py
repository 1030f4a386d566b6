"""Attackers: every resource tried as its owner, another user, an admin and nobody;
injection strings stored and returned verbatim; no user enumeration at log-in."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest

from tests.conftest import unique_email
from tests.integration.conftest import PIN, Person, problem, sign_up, wallet_of
from tests.integration.payments import BANK, add_money, upgrade_to_full, withdraw
from tests.integration.stack import Stack
from tests.integration.transfers import payment_token, send, settled

INJECTIONS = [
    "Robert'); DROP TABLE users;--",
    '" OR "1"="1',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} #{7*7}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "नमस्ते 🙏 ₹",
    "%00%0d%0aSet-Cookie: x=1",
]


async def _admin(stack: Stack, client: httpx.AsyncClient) -> Person:
    admin = await sign_up(client, name="Admin")
    assert stack.tijori("grant-admin", admin.email).returncode == 0
    login = await client.post(
        "/api/auth/token", data={"username": admin.email, "password": admin.password}
    )
    admin.token = login.json()["access_token"]
    return admin


async def test_every_read_and_write_is_allowed_only_to_whom_it_belongs(
    secure_stack: Stack, secure_gateway: httpx.AsyncClient
) -> None:
    owner, other = (
        await sign_up(secure_gateway, name="Owner"),
        await sign_up(secure_gateway, name="Other"),
    )
    admin = await _admin(secure_stack, secure_gateway)
    for person in (owner, other):
        await wallet_of(secure_gateway, person)
    txn = (await send(secure_gateway, owner, other.phone, "1.00")).json()
    await settled(secure_gateway, owner, txn["id"])
    stranger = await sign_up(secure_gateway, name="Stranger")

    as_ = {
        "owner": owner.auth,
        "receiver": other.auth,
        "stranger": stranger.auth,
        "admin": admin.auth,
        "nobody": {},
    }
    roles = ("owner", "receiver", "stranger", "admin", "nobody")
    matrix: list[tuple[str, tuple[int, ...]]] = [
        (f"/api/users/{owner.id}", (200, 404, 404, 200, 401)),
        ("/api/users/me", (200, 200, 200, 200, 401)),
        (f"/api/transactions/{txn['id']}", (200, 200, 404, 200, 401)),
        ("/api/transactions", (200, 200, 200, 200, 401)),
        ("/api/wallets/me/entries", (200, 200, 200, 200, 401)),
        ("/api/notifications", (200, 200, 200, 200, 401)),
        ("/api/users/me/kyc", (200, 200, 200, 200, 401)),
    ]
    await wallet_of(secure_gateway, stranger)
    await wallet_of(secure_gateway, admin)
    matrix.append(("/api/wallets/me", (200, 200, 200, 200, 401)))
    matrix.append(("/api/wallets/me/limits", (200, 200, 200, 200, 401)))
    for path, expected in matrix:
        got = tuple(
            [(await secure_gateway.get(path, headers=as_[role])).status_code for role in roles]
        )
        assert got == expected, (path, dict(zip(roles, got, strict=True)))

    # lists and /me answers hold only the caller's own things
    lists = {
        role: (await secure_gateway.get("/api/transactions", headers=headers)).json()["items"]
        for role, headers in as_.items()
        if role != "nobody"
    }
    assert [t["id"] for t in lists["owner"]] == [txn["id"]] == [t["id"] for t in lists["receiver"]]
    assert lists["stranger"] == [] and lists["admin"] == []
    for role in ("owner", "stranger"):
        me = (await secure_gateway.get("/api/wallets/me", headers=as_[role])).json()
        assert me["user_id"] == {"owner": owner.id, "stranger": stranger.id}[role]
        notes = (await secure_gateway.get("/api/notifications", headers=as_[role])).json()["items"]
        assert {n["receiver"] for n in notes} <= {
            owner.email if role == "owner" else stranger.email
        }

    # writes: only as yourself, never as someone else
    assert (
        await secure_gateway.post("/api/transactions", json={"receiver": other.phone, "amount": 1})
    ).status_code == 401
    assert (await secure_gateway.patch("/api/users/me", json={"name": "x"})).status_code == 401
    for field in ({"sender": other.id}, {"sender_id": other.id}, {"user_id": other.id}):
        forged = await secure_gateway.post(
            "/api/transactions",
            json={"receiver": stranger.phone, "amount": 1} | field,
            headers=owner.auth,
        )
        assert (forged.status_code, forged.json()["code"]) == (422, "validation_error")
    # a KYC request for someone else: there is no such route, and no field names another
    kyc = {"pan": "ABCPR1234F", "name": "Owner", "date_of_birth": "1990-01-01"}
    for_other = await secure_gateway.post(
        "/api/users/me/kyc", json=kyc | {"user_id": owner.id}, headers=stranger.auth
    )
    assert (for_other.status_code, for_other.json()["code"]) == (422, "validation_error")
    assert (await secure_gateway.post(f"/api/users/{owner.id}/kyc", json=kyc)).status_code in (
        401,
        404,
        405,
    )
    assert (await secure_gateway.get("/api/users/me/kyc", headers=owner.auth)).json()[
        "kyc"
    ] == "MINIMUM"
    renamed = await secure_gateway.patch(
        "/api/users/me", json={"name": "Renamed"}, headers=stranger.auth
    )
    assert renamed.json()["id"] == stranger.id
    assert (await secure_gateway.get("/api/users/me", headers=owner.auth)).json()["name"] == "Owner"


async def test_a_top_up_or_a_withdrawal_is_read_only_by_its_owner(
    secure_stack: Stack, secure_gateway: httpx.AsyncClient
) -> None:
    """Payments' reads by id are the owner's alone: a stranger, and an admin too (the API
    gives the back office no payments reads), is told "not found" and sees none of it."""
    owner = await sign_up(secure_gateway, name="Owner", pin=PIN)
    stranger = await sign_up(secure_gateway, name="Stranger")
    admin = await _admin(secure_stack, secure_gateway)
    for person in (owner, stranger, admin):
        await wallet_of(secure_gateway, person)
    await upgrade_to_full(secure_gateway, owner)
    topup = await add_money(secure_gateway, owner, "10.00")
    answer = await withdraw(secure_gateway, owner, "10.00")
    assert answer.status_code == 202, answer.text
    withdrawal = answer.json()

    as_ = {"owner": owner.auth, "stranger": stranger.auth, "admin": admin.auth, "nobody": {}}
    secrets = (topup["order_id"], topup["checkout_url"], BANK["account_name"])
    for kind, thing, code in (
        ("topups", topup, "topup_not_found"),
        ("withdrawals", withdrawal, "withdrawal_not_found"),
    ):
        path = f"/api/payments/{kind}/{thing['id']}"
        assert (await secure_gateway.get(path, headers=owner.auth)).status_code == 200, path
        assert (await secure_gateway.get(path)).status_code == 401, path
        # MariaDB's text collation takes the upper-case id for the same row
        for asked in (thing["id"], thing["id"].upper()):
            for role in ("stranger", "admin"):
                refused = await secure_gateway.get(
                    f"/api/payments/{kind}/{asked}", headers=as_[role]
                )
                problem(refused, 404, code)
                assert not any(secret in refused.text for secret in secrets), (asked, role)
    for path, own in (("topups", topup), ("withdrawals", withdrawal)):
        lists = {
            role: await secure_gateway.get(f"/api/payments/{path}", headers=headers)
            for role, headers in as_.items()
        }
        assert lists.pop("nobody").status_code == 401
        assert [item["id"] for item in lists.pop("owner").json()["items"]] == [own["id"]]
        assert {role: page.json()["items"] for role, page in lists.items()} == {
            "stranger": [],
            "admin": [],
        }

    # the checkout's way back takes no token (a browser comes back from the gateway): it
    # sends anyone on to the web client's screen for the id, which asks as its caller,
    # and it neither shows nor changes the top-up
    back = await secure_gateway.get(f"/api/payments/topups/{topup['id']}/return")
    assert back.status_code == 303
    assert back.headers["location"].endswith(f"#/topups/{topup['id']}?result=pending")
    assert not any(secret in back.text + back.headers["location"] for secret in secrets)
    mine = await secure_gateway.get(f"/api/payments/topups/{topup['id']}", headers=owner.auth)
    assert (mine.json()["status"], mine.json()["amount"]) == ("CREATED", "10.00")
    # and no top-up is started for someone else
    forged = await secure_gateway.post(
        "/api/payments/topups", json={"amount": "1.00", "user_id": owner.id}, headers=stranger.auth
    )
    problem(forged, 422, "validation_error")
    owners = await secure_gateway.get("/api/payments/topups", headers=owner.auth)
    assert [item["id"] for item in owners.json()["items"]] == [topup["id"]]


@pytest.mark.parametrize("text", INJECTIONS)
async def test_injection_strings_are_stored_and_returned_verbatim(
    secure_gateway: httpx.AsyncClient, text: str
) -> None:
    created = await secure_gateway.post(
        "/api/users",
        json={
            "name": text,
            "email": unique_email(),
            "phone": "+919" + str(time.time_ns())[-9:],
            "password": "long enough",
        },
    )
    assert created.status_code == 201, created.text
    person_body: dict[str, Any] = created.json()
    assert person_body["name"] == text
    login = await secure_gateway.post(
        "/api/auth/token", data={"username": person_body["email"], "password": "long enough"}
    )
    person = Person(
        id=person_body["id"], name=text, email=person_body["email"], phone=person_body["phone"],
        password="long enough", token=login.json()["access_token"],
    )  # fmt: skip
    assert (await secure_gateway.get("/api/users/me", headers=person.auth)).json()["name"] == text
    friend = await sign_up(secure_gateway, name="Friend")
    await wallet_of(secure_gateway, person)
    await wallet_of(secure_gateway, friend)
    note = text[:140]
    txn = await send(secure_gateway, person, friend.email, "1.00", note=note)
    assert txn.status_code == 202, txn.text
    assert txn.json()["note"] == note and txn.json()["sender"]["name"] == text
    done = await settled(secure_gateway, friend, txn.json()["id"])
    assert (done["note"], done["sender"]["name"]) == (note, text)
    # the users table survived the first string, and everyone still logs in
    assert (await secure_gateway.get("/api/users/me", headers=friend.auth)).status_code == 200


async def test_brute_force_is_limited_and_unknown_users_look_like_wrong_passwords(
    secure_gateway: httpx.AsyncClient,
) -> None:
    victim = await sign_up(secure_gateway, name="Victim")

    async def attempt(username: str) -> tuple[int, float, str]:
        started = time.perf_counter()
        answer = await secure_gateway.post(
            "/api/auth/token", data={"username": username, "password": "guess-123"}
        )
        return answer.status_code, time.perf_counter() - started, answer.json()["detail"]

    known = [await attempt(victim.email) for _ in range(5)]
    unknown = [await attempt(unique_email("ghost")) for _ in range(5)]
    assert {status for status, _, _ in known} == {status for status, _, _ in unknown} == {401}
    assert {detail for _, _, detail in known} == {detail for _, _, detail in unknown}
    # the same Argon2 work is done either way: no order-of-magnitude timing oracle
    ratio = statistics.median(t for _, t, _ in known) / statistics.median(t for _, t, _ in unknown)
    assert 0.33 < ratio < 3, ratio
    blocked = [await attempt(victim.email) for _ in range(3)]
    assert {status for status, _, _ in blocked} == {429}


async def test_a_payment_token_is_no_access_token_and_an_access_token_pays_nothing(
    secure_gateway: httpx.AsyncClient,
) -> None:
    payer = await sign_up(secure_gateway, name="Payer", pin=PIN)
    payee = await sign_up(secure_gateway, name="Payee")
    for person in (payer, payee):
        await wallet_of(secure_gateway, person)
    token = await payment_token(secure_gateway, payer, payee.phone, "1.00", "stolen")
    as_bearer = await secure_gateway.get(
        "/api/wallets/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (as_bearer.status_code, as_bearer.json()["code"]) == (401, "invalid_token")
    # the thief pays with the payer's token from the thief's own wallet: refused
    thief = await send(secure_gateway, payee, payer.phone, "1.00", key="stolen", token=token)
    assert (thief.status_code, thief.json()["code"]) == (403, "payment_token_invalid")
    access = await send(secure_gateway, payer, payee.phone, "1.00", token=payer.token)
    assert (access.status_code, access.json()["code"]) == (403, "payment_token_invalid")
    assert (await secure_gateway.get("/api/wallets/me", headers=payer.auth)).json()[
        "balance"
    ] == "100.00"
