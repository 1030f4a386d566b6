"""Faults while money comes in and goes out: payments killed while it applies webhooks and
while it requests payouts, Kafka restarted mid-withdrawal. After each, every top-up and
withdrawal is in a final state, no money is made or lost, and `tijori reconcile` and
`tijori audit` are clean."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx

from tests.conftest import poll
from tests.faults.breaking import restart, restart_kafka
from tests.integration.conftest import Person, set_pin, sign_up, wallet_of
from tests.integration.payments import (
    add_money,
    checkout,
    payment_token,
    reaches,
    sandbox_api,
    upgrade_to_full,
    withdraw,
)
from tests.integration.stack import Stack

TOPUPS = 6
WITHDRAWALS = 6
PAYOUT_ACCOUNT = "7878780080316316"


async def _paying_people(
    client: httpx.AsyncClient, count: int, *, full_kyc: bool = False
) -> list[Person]:
    """People with a wallet and a PIN; with ``full_kyc``, verified in the sandbox KYC (a
    minimum-KYC wallet cannot withdraw). Made side by side: each waits seconds on the
    KYC check and on events."""

    async def paying(n: int) -> Person:
        person = await sign_up(client, name=f"Payer {n}")
        await wallet_of(client, person)
        await set_pin(client, person)
        if full_kyc:
            await upgrade_to_full(client, person)
        return person

    return list(await asyncio.gather(*(paying(n) for n in range(count))))


async def _books_are_clean(stack: Stack) -> None:
    for command in ("audit", "reconcile"):
        for _ in range(30):  # the last events of the fault may still be on their way
            result = await asyncio.to_thread(stack.tijori, command)
            if result.returncode == 0:
                break
            await asyncio.sleep(2)
        assert result.returncode == 0, result.stdout + result.stderr


async def test_kill_9_payments_while_it_applies_webhooks(
    fault_stack: Stack, fault_gateway: httpx.AsyncClient
) -> None:
    people = await _paying_people(fault_gateway, TOPUPS)
    topups = [await add_money(fault_gateway, person, "75.00") for person in people]
    # the payments arrive as webhooks (the browsers never come back) while payments dies
    paying = asyncio.gather(*(checkout(t["checkout_url"], follow_return=False) for t in topups))
    await asyncio.sleep(0.3)
    await restart(fault_stack, "payments")
    await paying
    for person, topup in zip(people, topups, strict=True):
        final = await reaches(
            fault_gateway,
            person,
            f"/api/payments/topups/{topup['id']}",
            "CREDITED",
            "FAILED",
            timeout=120,
        )
        assert final["status"] == "CREDITED", final
        assert (await wallet_of(fault_gateway, person))["balance"] == "175.00"
    await _books_are_clean(fault_stack)


async def _withdraw_through(
    stack: Stack, client: httpx.AsyncClient, fault: Callable[[], Awaitable[None]]
) -> None:
    people = await _paying_people(client, WITHDRAWALS, full_kyc=True)
    answers = []
    for person in people:
        key = str(uuid.uuid4())
        token = await payment_token(client, person, "40.00", key)
        answers.append(await withdraw(client, person, "40.00", key=key, token=token))
    assert all(answer.status_code == 202 for answer in answers), [a.text for a in answers]
    await fault()
    async with sandbox_api(stack) as api:
        for person, answer in zip(people, answers, strict=True):
            withdrawal_id = answer.json()["id"]
            final = await reaches(
                client,
                person,
                f"/api/payments/withdrawals/{withdrawal_id}",
                "PROCESSED",
                "FAILED",
                "REVERSED",
                timeout=120,
            )
            assert final["status"] == "PROCESSED", final

            async def debited(person: Person = person) -> bool:
                return bool((await wallet_of(client, person))["balance"] == "60.00")

            await poll(debited, timeout=60, what="the hold to be posted")
            params = {"reference_id": withdrawal_id, "account_number": PAYOUT_ACCOUNT}
            payouts = (await api.get("/v1/payouts", params=params)).json()
            assert payouts["count"] == 1, payouts  # one payout, however often it was asked
    await _books_are_clean(stack)


async def test_kill_9_payments_while_it_requests_payouts(
    fault_stack: Stack, fault_gateway: httpx.AsyncClient
) -> None:
    async def fault() -> None:
        await asyncio.sleep(0.2)  # the holds come back and the payouts are being asked for
        await restart(fault_stack, "payments")

    await _withdraw_through(fault_stack, fault_gateway, fault)


async def test_restart_kafka_mid_withdrawal(
    fault_stack: Stack, fault_gateway: httpx.AsyncClient
) -> None:
    async def fault() -> None:
        await restart_kafka(fault_stack)

    await _withdraw_through(fault_stack, fault_gateway, fault)
