"""Transactions' pre-check of the sender's limits on the running stack: once wallets has
told it what a sender may still send (with every outcome, and wallet.limits_changed when
a cap, the tier or the freeze changes), a transfer past a limit is refused at once with
422 limit_exceeded, naming the limit and what is left, one from a frozen wallet with 423
wallet_frozen, and nothing PENDING is made; a raise of the cap, an upgrade to full KYC or
an unfreeze reaches it, and the payment goes through. A withdrawal over a daily cap
fails as a transfer does: limit_exceeded, naming the cap. Wallets runs here with the
small limits of test_limits.py (a ₹50 monthly limit), until the module's last test but
the audit restarts it with its normal ones (₹10,000): that restart's announcement of
the tiers' limits reaches the pre-check, and a payment refused before goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

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
from tests.integration.payments import upgrade_to_full, withdraw, withdrawal_status
from tests.integration.stack import Stack
from tests.integration.transfers import send, settled, unfreeze, unfreeze_token


@pytest.fixture(scope="module", autouse=True)
def tight_limits(stack: Stack) -> Iterator[RestartedWallets]:
    """Wallets restarted with small minimum-KYC limits for this module, then as it was."""
    yield from wallets_restarted_with(stack, TIGHT)


async def _people(client: httpx.AsyncClient, count: int) -> list[Person]:
    people = [await sign_up(client, name=f"Person {n}", pin=PIN) for n in range(count)]
    for person in people:
        await wallet_of(client, person)
    return people


async def _paid(client: httpx.AsyncClient, sender: Person, receiver: Person, amount: str) -> Any:
    """A transfer that must be accepted, once it has settled."""
    answer = await send(client, sender, receiver.phone, amount)
    assert answer.status_code == 202, answer.text
    return await settled(client, sender, answer.json()["id"])


async def _refused(
    client: httpx.AsyncClient, sender: Person, receiver: Person, amount: str
) -> dict[str, Any]:
    """A transfer that must be refused at once over a limit: its problem."""
    return problem(await send(client, sender, receiver.phone, amount), 422, "limit_exceeded")


async def _transactions(client: httpx.AsyncClient, person: Person, **query: str) -> list[Any]:
    answer = await client.get("/api/transactions", params=query, headers=person.auth)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def test_a_transfer_past_what_is_left_of_the_month_is_refused_at_once_and_makes_nothing(
    gateway: httpx.AsyncClient,
) -> None:
    # receivers take at most ₹20 here (a ₹120 balance cap): three of them
    asha, ravi, meera, kavya = await _people(gateway, 4)
    assert (await _paid(gateway, asha, ravi, "20.00"))["status"] == "SUCCESS"
    assert (await _paid(gateway, asha, meera, "20.00"))["status"] == "SUCCESS"  # ₹10 left
    refused = await _refused(gateway, asha, kavya, "10.01")
    assert (refused["limit"], refused["left"]) == ("monthly_p2p", "10.00")
    assert "₹10.00 is left of this month's limit" in refused["detail"]
    assert await _transactions(gateway, asha, status="PENDING") == []
    assert len(await _transactions(gateway, asha)) == 2  # the refused one was never made
    assert (await wallet_of(gateway, asha))["balance"] == "60.00"
    # to the limit exactly, then nothing is left
    assert (await _paid(gateway, asha, kavya, "10.00"))["status"] == "SUCCESS"
    nothing = await _refused(gateway, asha, kavya, "0.01")
    assert (nothing["limit"], nothing["left"]) == ("monthly_p2p", "0.00")
    assert by_name(await limits_of(gateway, asha))["monthly_p2p"][3] == "0.00"


async def test_a_payment_past_a_daily_cap_the_user_set_is_refused_at_once(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi, meera, kavya = await _people(gateway, 4)
    assert (await set_caps(gateway, asha, {"daily_amount": "20.00"})).status_code == 200
    assert (await set_caps(gateway, ravi, {"daily_count": 2})).status_code == 200
    assert (await _paid(gateway, asha, meera, "15.00"))["status"] == "SUCCESS"
    over = await _refused(gateway, asha, kavya, "5.01")
    assert (over["limit"], over["left"]) == ("daily_amount", "5.00")
    assert (await _paid(gateway, asha, kavya, "5.00"))["status"] == "SUCCESS"  # to the cap
    assert (await wallet_of(gateway, asha))["balance"] == "80.00"
    for _ in range(2):
        assert (await _paid(gateway, ravi, kavya, "1.00"))["status"] == "SUCCESS"
    third = await _refused(gateway, ravi, kavya, "1.00")
    assert (third["limit"], third["left"]) == ("daily_count", 0)  # payments, not rupees
    assert await _transactions(gateway, ravi, status="PENDING") == []
    assert (await wallet_of(gateway, ravi))["balance"] == "98.00"
    assert by_name(await limits_of(gateway, ravi))["daily_count"] == ("day", 2, 2, 0)


async def _goes_through(
    client: httpx.AsyncClient,
    sender: Person,
    receiver: Person,
    amount: str,
    limit: str | None,
    *,
    status: int = 422,
    code: str = "limit_exceeded",
) -> Any:
    """Ask for the transfer until the pre-check lets it through (a refusal, over
    ``limit`` or with ``status`` and ``code``, makes nothing, so asking again is safe);
    the transfer, settled."""

    async def accepted() -> httpx.Response | None:
        answer = await send(client, sender, receiver.phone, amount)
        if answer.status_code == status:
            assert problem(answer, status, code).get("limit") == limit
            return None
        return answer

    answer = await poll(accepted, what=f"the pre-check to hear that {limit or code} was lifted")
    assert answer.status_code == 202, answer.text
    return await settled(client, sender, answer.json()["id"])


async def test_a_raised_cap_reaches_the_pre_check_and_the_payment_goes_through(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await _people(gateway, 2)
    assert (await set_caps(gateway, asha, {"daily_amount": "10.00"})).status_code == 200
    assert (await _paid(gateway, asha, ravi, "10.00"))["status"] == "SUCCESS"
    assert (await _refused(gateway, asha, ravi, "5.00"))["left"] == "0.00"
    token = await caps_token(gateway, asha, "30.00", "limits:30.00:none")
    raised = await set_caps(gateway, asha, {"daily_amount": "30.00"}, token)
    assert raised.status_code == 200, raised.text
    assert (await _goes_through(gateway, asha, ravi, "5.00", "daily_amount"))["status"] == (
        "SUCCESS"
    )
    # lowered again (at once, no PIN): the pre-check hears of that too
    assert (await set_caps(gateway, asha, {"daily_amount": "15.00"})).status_code == 200

    async def refused_again() -> dict[str, Any] | None:
        answer = await send(gateway, asha, ravi.phone, "0.01")
        return problem(answer, 422, "limit_exceeded") if answer.status_code == 422 else None

    assert (await poll(refused_again, what="the lowered cap"))["left"] == "0.00"


async def test_an_upgrade_to_full_kyc_reaches_the_pre_check_and_the_payment_goes_through(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi, meera, kavya = await _people(gateway, 4)
    assert (await _paid(gateway, asha, ravi, "20.00"))["status"] == "SUCCESS"  # ₹120: the cap
    assert (await _paid(gateway, asha, meera, "20.00"))["status"] == "SUCCESS"
    assert (await _refused(gateway, asha, kavya, "10.01"))["left"] == "10.00"
    await upgrade_to_full(gateway, asha)  # the full-KYC monthly limit: ₹10,000
    paid = await _goes_through(gateway, asha, kavya, "10.01", "monthly_p2p")
    assert paid["status"] == "SUCCESS", paid
    assert by_name(await limits_of(gateway, asha))["monthly_p2p"][2] == "50.01"


async def test_a_withdrawal_past_a_daily_cap_fails_as_a_transfer_does_naming_the_cap(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    [asha] = await _people(gateway, 1)
    await upgrade_to_full(gateway, asha)  # a minimum-KYC wallet cannot withdraw at all
    assert (await set_caps(gateway, asha, {"daily_amount": "30.00"})).status_code == 200
    answer = await withdraw(gateway, asha, "40.00")
    assert answer.status_code == 202, answer.text
    failed = await withdrawal_status(gateway, asha, answer.json()["id"], "FAILED")
    assert (failed["reason"], failed["limit"]) == ("limit_exceeded", "daily_amount")
    assert (await wallet_of(gateway, asha))["available"] == "100.00"
    mails = await stack.wait_for_mails(asha.email, 3)  # welcome, KYC verified, failed
    failure = next(mail for mail in mails if "failed" in str(mail["Subject"]))
    body = failure.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "it would pass your daily limit on the value of your payments" in body


async def test_a_frozen_sender_is_refused_at_once_and_pays_again_right_after_unfreezing(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await _people(gateway, 2)
    assert (await _paid(gateway, asha, ravi, "5.00"))["status"] == "SUCCESS"
    frozen = await gateway.post("/api/wallets/me/freeze", headers=asha.auth)
    assert frozen.status_code == 200, frozen.text

    async def refused_at_once() -> dict[str, Any] | None:
        answer = await send(gateway, asha, ravi.phone, "5.00")
        if answer.status_code == 202:  # sent before the freeze was heard: it FAILS
            failed = await settled(gateway, asha, answer.json()["id"])
            assert (failed["status"], failed["reason"]) == ("FAILED", "wallet_frozen")
            return None
        return problem(answer, 423, "wallet_frozen")

    refusal = await poll(refused_at_once, what="the pre-check to hear of the freeze")
    assert "frozen" in refusal["detail"]
    made = await _transactions(gateway, asha)
    # refused at once, however much: the freeze comes before the balance
    problem(await send(gateway, asha, ravi.phone, "5000.00"), 423, "wallet_frozen")
    assert await _transactions(gateway, asha) == made  # nothing was made
    assert await _transactions(gateway, asha, status="PENDING") == []

    token = await unfreeze_token(gateway, asha)
    unfrozen = await unfreeze(gateway, asha, token, asha.password)
    assert unfrozen.status_code == 200, unfrozen.text
    # no other event of asha's wallet: the unfreeze's own news lifts the refusal
    paid = await _goes_through(gateway, asha, ravi, "5.00", None, status=423, code="wallet_frozen")
    assert paid["status"] == "SUCCESS", paid
    assert (await wallet_of(gateway, asha))["balance"] == "90.00"


async def test_a_wallets_restart_with_a_raised_monthly_limit_reaches_the_pre_check(
    gateway: httpx.AsyncClient, tight_limits: RestartedWallets
) -> None:
    """The module's last test but the audit: it restarts wallets with its normal limits
    (₹10,000 a month), which the fixture's end would do anyway."""
    asha, ravi, meera, kavya = await _people(gateway, 4)
    assert (await _paid(gateway, asha, ravi, "20.00"))["status"] == "SUCCESS"
    assert (await _paid(gateway, asha, meera, "20.00"))["status"] == "SUCCESS"
    assert (await _refused(gateway, asha, kavya, "10.01"))["left"] == "10.00"
    tight_limits.restore()  # the operator raised TIJORI_P2P_MONTHLY_LIMIT and restarted
    # asha's wallet tells nothing new: the announcement of the tiers' limits does
    paid = await _goes_through(gateway, asha, kavya, "10.01", "monthly_p2p")
    assert paid["status"] == "SUCCESS", paid
    assert by_name(await limits_of(gateway, asha))["monthly_p2p"][1:] == (
        "10000.00",
        "50.01",
        "9949.99",
    )


async def test_audit_is_clean_after_the_pre_check(stack: Stack) -> None:
    audit = stack.tijori("audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
