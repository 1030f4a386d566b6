"""KYC tiers and their limits on the running stack: the sandbox KYC check passes and
fails predictably, and wallets enforces each tier's limits in the locked batch that
moves the money, so racing payments never pass a limit together and a refused one
moves nothing. Wallets runs here with small limits (a ₹50 monthly person-to-person
limit, a ₹120 balance cap) so that the ₹100 promotion reaches them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import poll
from tests.integration.conftest import PIN, Person, problem, sign_up, wallet_of
from tests.integration.payments import upgrade_to_full
from tests.integration.stack import Stack
from tests.integration.transfers import send, settled, two_people

TIGHT = {
    "TIJORI_P2P_MONTHLY_LIMIT": "50.00",
    "TIJORI_BALANCE_CAP": "120.00",
}


@pytest.fixture(scope="module", autouse=True)
def tight_limits(stack: Stack) -> Iterator[None]:
    """Wallets restarted with small minimum-KYC limits for this module, then as it was."""
    normal = dict(stack.env)
    stack.stop("wallets")
    stack.env.update(TIGHT)
    try:
        stack.start("wallets")
        stack.wait_ready("wallets")
        yield
    finally:
        stack.stop("wallets")
        stack.env.clear()
        stack.env.update(normal)
        stack.start("wallets")
        stack.wait_ready("wallets")


async def _limits(client: httpx.AsyncClient, person: Person) -> dict[str, Any]:
    answer = await client.get("/api/wallets/me/limits", headers=person.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _by_name(limits: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    return {
        item["name"]: (item["period"], item["limit"], item["used"], item["left"])
        for item in limits["limits"]
    }


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
    assert (await _limits(gateway, rejected))["tier"] == "MINIMUM"


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
    # 20 payments of ₹5 (₹100, all the balance) against a ₹50 monthly limit
    answers = await asyncio.gather(
        *(send(gateway, sender, receivers[n % 5].phone, "5.00") for n in range(20))
    )
    assert all(answer.status_code == 202 for answer in answers), [a.text for a in answers]
    finals = [await settled(gateway, sender, answer.json()["id"]) for answer in answers]
    succeeded = [final for final in finals if final["status"] == "SUCCESS"]
    failed = [final for final in finals if final["status"] == "FAILED"]
    assert sum(Decimal(final["amount"]) for final in succeeded) <= Decimal("50.00")
    assert len(succeeded) == 10  # decided one after another: every one that fits passes
    assert {(final["reason"], final["limit"]) for final in failed} == {
        ("limit_exceeded", "monthly_p2p")
    }
    assert (await wallet_of(gateway, sender))["balance"] == "50.00"
    limits = _by_name(await _limits(gateway, sender))
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
    assert _by_name(await _limits(gateway, asha))["monthly_p2p"][2] == "0.00"
    mails = await stack.wait_for_mails(asha.email, 2)
    assert any("failed" in str(mail["Subject"]) for mail in mails)
    fits = await send(gateway, asha, ravi.phone, "20.00")  # exactly to the cap
    assert (await settled(gateway, asha, fits.json()["id"]))["status"] == "SUCCESS"


async def test_the_limits_route_shows_each_limit_of_the_tier_used_and_left(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await two_people(gateway)
    minimum = await _limits(gateway, asha)
    assert minimum["tier"] == "MINIMUM"
    assert _by_name(minimum) == {
        "balance_cap": ("balance", "120.00", "100.00", "20.00"),
        "monthly_load": ("month", "10000.00", "0.00", "10000.00"),
        "yearly_load": ("financial_year", "120000.00", "0.00", "120000.00"),
        "monthly_p2p": ("month", "50.00", "0.00", "50.00"),
    }
    sent = await send(gateway, asha, ravi.phone, "12.50")
    assert (await settled(gateway, asha, sent.json()["id"]))["status"] == "SUCCESS"
    after = _by_name(await _limits(gateway, asha))
    assert after["monthly_p2p"] == ("month", "50.00", "12.50", "37.50")
    assert after["balance_cap"] == ("balance", "120.00", "87.50", "32.50")
    await upgrade_to_full(gateway, ravi)
    full = await _limits(gateway, ravi)
    assert full["tier"] == "FULL"
    assert _by_name(full) == {
        "balance_cap": ("balance", "200000.00", "112.50", "199887.50"),
        "monthly_p2p": ("month", "10000.00", "0.00", "10000.00"),
    }
    # a full-KYC receiver takes more than the minimum's cap
    more = await send(gateway, asha, ravi.phone, "30.00")
    assert (await settled(gateway, asha, more.json()["id"]))["status"] == "SUCCESS"
    anonymous = await gateway.get("/api/wallets/me/limits")
    assert anonymous.status_code == 401


async def test_audit_is_clean_after_the_limits(stack: Stack) -> None:
    await asyncio.sleep(2)  # the last events of the tests before
    audit = stack.tijori("audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
