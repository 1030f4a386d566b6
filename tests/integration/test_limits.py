"""KYC tiers and their limits on the running stack: the sandbox KYC check passes and
fails predictably, and wallets enforces each tier's limits in the locked batch that
moves the money, so racing payments never pass a limit together and a refused one
moves nothing. Wallets runs here with small limits (a ₹50 monthly person-to-person
limit, a ₹120 balance cap) so that the ₹100 promotion reaches them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll
from tests.integration.conftest import PIN, Person, problem, sign_up, wallet_of
from tests.integration.limits import (
    TIGHT,
    RestartedWallets,
    by_name,
    caps_token,
    limits_of,
    set_caps,
    wallets_restarted_with,
)
from tests.integration.payments import add_money, checkout, topup_status, upgrade_to_full
from tests.integration.stack import Stack
from tests.integration.transfers import send, settled, two_people
from tijori.wallets.models import Wallet


@pytest.fixture(scope="module", autouse=True)
def tight_limits(stack: Stack) -> Iterator[RestartedWallets]:
    """Wallets restarted with small minimum-KYC limits for this module, then as it was."""
    yield from wallets_restarted_with(stack, TIGHT)


async def test_the_sandbox_kyc_check_passes_and_fails_predictably(
    gateway: httpx.AsyncClient,
) -> None:
    verified = await sign_up(gateway, name="Asha Rao")
    rejected = await sign_up(gateway, name="Ravi Kumar")
    await wallet_of(gateway, verified)
    await wallet_of(gateway, rejected)
    await upgrade_to_full(gateway, verified)
    assert (await gateway.get("/api/users/me", headers=verified.auth)).json()["kyc"] == "FULL"
    body = {"pan": "ABCPK0000F", "name": "Ravi Kumar", "date_of_birth": "1990-01-31"}
    asked = await gateway.post("/api/users/me/kyc", json=body, headers=rejected.auth)
    assert asked.status_code == 202 and asked.json()["kyc"] == "PENDING", asked.text

    async def decided() -> Any:
        kyc = (await gateway.get("/api/users/me/kyc", headers=rejected.auth)).json()
        return kyc if kyc["kyc"] != "PENDING" else None

    result = await poll(decided, what="the rejected KYC check")
    assert (result["kyc"], result["reason"], result["pan_masked"]) == (
        "REJECTED",
        "pan_not_found",
        "XXXXXX000F",
    )
    await asyncio.sleep(1)  # a rejection changes no wallet
    assert (await limits_of(gateway, rejected))["tier"] == "MINIMUM"


async def test_a_malformed_pan_or_date_is_a_clear_422_and_changes_nothing(
    gateway: httpx.AsyncClient, person: Person
) -> None:
    good = {"pan": "ABCPR1234F", "name": "Asha Rao", "date_of_birth": "1994-08-15"}
    for pan in ("abcpr1234f", "ABCPR1234", "ABCPR12345", "", "ABCPR-1234F", None):
        answer = await gateway.post(
            "/api/users/me/kyc", json=good | {"pan": pan}, headers=person.auth
        )
        problem(answer, 422, "invalid_pan")
    for born in ("2999-01-01", "1994-13-01", "yesterday", "2015-01-01"):
        answer = await gateway.post(
            "/api/users/me/kyc", json=good | {"date_of_birth": born}, headers=person.auth
        )
        problem(answer, 422, "invalid_date_of_birth")
    problem(
        await gateway.post("/api/users/me/kyc", json=good | {"name": "4sha"}, headers=person.auth),
        422,
        "invalid_name",
    )
    assert (await gateway.post("/api/users/me/kyc", json=good)).status_code == 401
    assert (await gateway.get("/api/users/me/kyc", headers=person.auth)).json()["kyc"] == "MINIMUM"


async def test_twenty_concurrent_payments_never_pass_the_monthly_limit_together(
    gateway: httpx.AsyncClient,
) -> None:
    sender = await sign_up(gateway, name="Asha Rao", pin=PIN)
    receivers = [await sign_up(gateway, name=f"Receiver {n}", pin=PIN) for n in range(5)]
    for person in (sender, *receivers):
        await wallet_of(gateway, person)
    # 20 payments of ₹5 (₹100, all the balance) against a ₹50 monthly limit; the
    # pre-check knows nothing of a wallet that has sent nothing, so wallets decides the
    # first ones, and what the pre-check refuses once it has heard is refused at once
    answers = await asyncio.gather(
        *(send(gateway, sender, receivers[n % 5].phone, "5.00") for n in range(20))
    )
    accepted = [answer for answer in answers if answer.status_code == 202]
    for answer in answers:
        if answer.status_code != 202:
            assert problem(answer, 422, "limit_exceeded")["limit"] == "monthly_p2p"
    finals = [await settled(gateway, sender, answer.json()["id"]) for answer in accepted]
    succeeded = [final for final in finals if final["status"] == "SUCCESS"]
    failed = [final for final in finals if final["status"] == "FAILED"]
    assert sum(Decimal(final["amount"]) for final in succeeded) <= Decimal("50.00")
    assert len(succeeded) == 10  # decided one after another: every one that fits passes
    assert {(final["reason"], final["limit"]) for final in failed} <= {
        ("limit_exceeded", "monthly_p2p")
    }
    assert (await wallet_of(gateway, sender))["balance"] == "50.00"
    limits = by_name(await limits_of(gateway, sender))
    assert limits["monthly_p2p"] == ("month", "50.00", "50.00", "0.00")


async def test_a_credit_past_the_receiver_s_cap_fails_and_the_sender_keeps_the_money(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    asha, ravi = await two_people(gateway)
    answer = await send(gateway, asha, ravi.phone, "30.00")  # ravi: 100 + 30 > 120
    assert answer.status_code == 202, answer.text
    final = await settled(gateway, asha, answer.json()["id"])
    assert (final["status"], final["reason"], final["limit"]) == (
        "FAILED",
        "limit_exceeded",
        "receiver_balance_cap",
    )
    assert (await wallet_of(gateway, asha))["balance"] == "100.00"
    assert (await wallet_of(gateway, ravi))["balance"] == "100.00"
    assert by_name(await limits_of(gateway, asha))["monthly_p2p"][2] == "0.00"
    mails = await stack.wait_for_mails(asha.email, 2)
    assert any("failed" in str(mail["Subject"]) for mail in mails)
    fits = await send(gateway, asha, ravi.phone, "20.00")  # exactly to the cap
    assert (await settled(gateway, asha, fits.json()["id"]))["status"] == "SUCCESS"


async def test_the_limits_route_shows_each_limit_of_the_tier_used_and_left(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await two_people(gateway)
    minimum = await limits_of(gateway, asha)
    assert minimum["tier"] == "MINIMUM"
    assert by_name(minimum) == {
        "balance_cap": ("balance", "120.00", "100.00", "20.00"),
        "monthly_load": ("month", "10000.00", "0.00", "10000.00"),
        "yearly_load": ("financial_year", "120000.00", "0.00", "120000.00"),
        "monthly_p2p": ("month", "50.00", "0.00", "50.00"),
        # no caps of the user's own yet: only what was paid today
        "daily_amount": ("day", None, "0.00", None),
        "daily_count": ("day", None, 0, None),
    }
    assert minimum["user_limits_max"] == {"daily_amount": "100000.00", "daily_count": 20}
    assert minimum["kyc_upgrade_deadline"] is not None
    sent = await send(gateway, asha, ravi.phone, "12.50")
    assert (await settled(gateway, asha, sent.json()["id"]))["status"] == "SUCCESS"
    after = by_name(await limits_of(gateway, asha))
    assert after["monthly_p2p"] == ("month", "50.00", "12.50", "37.50")
    assert after["daily_amount"] == ("day", None, "12.50", None)
    assert after["daily_count"] == ("day", None, 1, None)
    assert after["balance_cap"] == ("balance", "120.00", "87.50", "32.50")
    await upgrade_to_full(gateway, ravi)
    full = await limits_of(gateway, ravi)
    assert full["tier"] == "FULL"
    assert by_name(full) == {
        "balance_cap": ("balance", "200000.00", "112.50", "199887.50"),
        "monthly_p2p": ("month", "10000.00", "0.00", "10000.00"),
        "daily_amount": ("day", None, "0.00", None),
        "daily_count": ("day", None, 0, None),
    }
    assert full["kyc_upgrade_deadline"] is None  # full-KYC: nothing to upgrade
    # a full-KYC receiver takes more than the minimum's cap
    more = await send(gateway, asha, ravi.phone, "30.00")
    assert (await settled(gateway, asha, more.json()["id"]))["status"] == "SUCCESS"
    anonymous = await gateway.get("/api/wallets/me/limits")
    assert anonymous.status_code == 401


# --- the user's own daily caps and the upgrade deadline --------------------------


def _caps(limits: dict[str, Any]) -> tuple[Any, Any]:
    named = by_name(limits)
    return named["daily_amount"][1], named["daily_count"][1]


async def test_lowering_a_cap_is_at_once_and_raising_one_needs_the_pin_once(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await two_people(gateway)
    lowered = await set_caps(gateway, asha, {"daily_amount": "30.00", "daily_count": 5})
    assert lowered.status_code == 200, lowered.text
    assert _caps(lowered.json()) == ("30.00", 5)
    assert by_name(lowered.json())["daily_amount"] == ("day", "30.00", "0.00", "30.00")
    problem(await set_caps(gateway, asha, {"daily_amount": "40.00"}), 403, "payment_token_required")
    problem(await set_caps(gateway, asha, {"daily_count": None}), 403, "payment_token_required")
    # a token for another cap, or for a payment, raises nothing
    other = await caps_token(gateway, asha, "45.00", "limits:45.00:5")
    problem(
        await set_caps(gateway, asha, {"daily_amount": "40.00"}, other),
        403,
        "payment_token_invalid",
    )
    payment = await caps_token(gateway, asha, "40.00", "some-transfer-key")
    problem(
        await set_caps(gateway, asha, {"daily_amount": "40.00"}, payment),
        403,
        "payment_token_invalid",
    )
    assert _caps(await limits_of(gateway, asha)) == ("30.00", 5)
    token = await caps_token(gateway, asha, "40.00", "limits:40.00:5")
    raised = await set_caps(gateway, asha, {"daily_amount": "40.00"}, token)
    assert raised.status_code == 200, raised.text
    assert _caps(raised.json()) == ("40.00", 5)
    # lowered again, the same token cannot raise it a second time
    assert (await set_caps(gateway, asha, {"daily_amount": "30.00"})).status_code == 200
    problem(
        await set_caps(gateway, asha, {"daily_amount": "40.00"}, token),
        403,
        "payment_token_invalid",
    )
    assert _caps(await limits_of(gateway, asha)) == ("30.00", 5)
    # removing every cap is a raise too, with the most a user may set as its amount
    removed = await caps_token(gateway, asha, "100000.00", "limits:none:none")
    answer = await set_caps(gateway, asha, {"daily_amount": None, "daily_count": None}, removed)
    assert answer.status_code == 200, answer.text
    assert _caps(answer.json()) == (None, None)
    anonymous = await gateway.put("/api/wallets/me/limits", json={"daily_count": 3})
    assert anonymous.status_code == 401
    assert _caps(await limits_of(gateway, ravi)) == (None, None)


async def test_concurrent_payments_never_pass_the_daily_value_cap_together(
    gateway: httpx.AsyncClient, wallets_db: AsyncEngine
) -> None:
    sender = await sign_up(gateway, name="Asha Rao", pin=PIN)
    receivers = [await sign_up(gateway, name=f"Receiver {n}", pin=PIN) for n in range(3)]
    for person in (sender, *receivers):
        await wallet_of(gateway, person)
    async with wallets_db.begin() as connection:
        # the cap set in wallets alone (no news of it): wallets, the authority, decides
        # at least until the first outcome tells transactions' pre-check
        await connection.execute(
            update(Wallet).where(Wallet.user_id == sender.id).values(daily_amount_cap_paise=1_500)
        )
    answers = await asyncio.gather(
        *(send(gateway, sender, receivers[n % 3].phone, "3.00") for n in range(12))
    )
    accepted = [answer for answer in answers if answer.status_code == 202]
    for answer in answers:
        if answer.status_code != 202:
            assert problem(answer, 422, "limit_exceeded")["limit"] == "daily_amount"
    finals = [await settled(gateway, sender, answer.json()["id"]) for answer in accepted]
    succeeded = [final for final in finals if final["status"] == "SUCCESS"]
    assert len(succeeded) == 5  # ₹15 of ₹36 asked for: every one that fits, no more
    assert {final["limit"] for final in finals if final["status"] == "FAILED"} <= {"daily_amount"}
    assert (await wallet_of(gateway, sender))["balance"] == "85.00"
    assert by_name(await limits_of(gateway, sender))["daily_amount"] == (
        "day",
        "15.00",
        "15.00",
        "0.00",
    )


INVALID_CAPS: list[Any] = [
    {"daily_amount": "-5.00"},
    {"daily_amount": "abc"},
    {"daily_amount": "1.234"},
    {"daily_amount": "0"},
    {"daily_amount": "100000.01"},  # above the most a user may set
    {"daily_amount": True},
    {"daily_count": 0},
    {"daily_count": -1},
    {"daily_count": 21},
    {"daily_count": "5"},
    {"daily_count": 2.5},
    {"daily_limit": "10.00"},
    {"daily_amount": "10.00", "extra": 1},
    ["daily_amount"],
]


async def test_an_invalid_cap_is_a_422_and_changes_nothing(gateway: httpx.AsyncClient) -> None:
    person = await sign_up(gateway)
    await wallet_of(gateway, person)
    assert (await set_caps(gateway, person, {"daily_amount": "50.00"})).status_code == 200
    for body in INVALID_CAPS:
        answer = await gateway.put("/api/wallets/me/limits", json=body, headers=person.auth)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] in ("validation_error", "invalid_amount", "invalid_limit")
    limits = await limits_of(gateway, person)
    assert _caps(limits) == ("50.00", None)


async def test_a_minimum_kyc_wallet_past_its_upgrade_deadline_takes_no_credit(
    gateway: httpx.AsyncClient, wallets_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    deadline = datetime.fromisoformat((await limits_of(gateway, ravi))["kyc_upgrade_deadline"])
    opened = datetime.fromisoformat((await wallet_of(gateway, ravi))["created_at"])
    assert timedelta(days=730) <= deadline - opened <= timedelta(days=731)  # 24 months
    async with wallets_db.begin() as connection:
        # opened 25 months ago: its deadline passed a month ago
        await connection.execute(
            update(Wallet)
            .where(Wallet.user_id == ravi.id)
            .values(created_at=opened - timedelta(days=25 * 31))
        )
    answer = await send(gateway, asha, ravi.phone, "5.00")
    assert answer.status_code == 202, answer.text
    final = await settled(gateway, asha, answer.json()["id"])
    assert (final["status"], final["reason"], final["limit"]) == (
        "FAILED",
        "limit_exceeded",
        "kyc_upgrade_deadline",
    )
    assert (await wallet_of(gateway, ravi))["balance"] == "100.00"
    # money Ravi adds himself is refunded, naming the deadline as a transfer does
    topup = await add_money(gateway, ravi, "5.00")
    await checkout(topup["checkout_url"])
    refunded = await topup_status(gateway, ravi, topup["id"], "REFUNDED")
    assert (refunded["reason"], refunded["limit"]) == ("limit_exceeded", "kyc_upgrade_deadline")
    assert (await wallet_of(gateway, ravi))["balance"] == "100.00"
    passed = datetime.fromisoformat((await limits_of(gateway, ravi))["kyc_upgrade_deadline"])
    assert passed < datetime.now(UTC)
    # it still pays
    back = await send(gateway, ravi, asha.phone, "5.00")
    assert (await settled(gateway, ravi, back.json()["id"]))["status"] == "SUCCESS"


async def test_audit_is_clean_after_the_limits(stack: Stack) -> None:
    await asyncio.sleep(2)  # the last events of the tests before
    audit = stack.tijori("audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
