"""Every transfer needs the payment token its sender's PIN bought for exactly it, and a
token pays once (issue 20), on the running stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Person
from tests.integration.stack import Stack
from tests.integration.transfers import balance, payment_token, send, settled, two_people
from tijori.common.auth import TokenKeys
from tijori.common.config import CommonSettings
from tijori.common.db import create_engine


@pytest.fixture(scope="module")
async def transactions_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("transactions"))
    yield engine
    await engine.dispose()


async def _sent_by(transactions_db: AsyncEngine, sender: Person) -> int:
    async with transactions_db.connect() as connection:
        count = await connection.execute(
            text("SELECT COUNT(*) FROM transactions WHERE sender_id = :s"), {"s": sender.id}
        )
        return int(count.scalar_one())


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code, answer.text


async def test_a_transfer_without_a_payment_token_is_refused_and_moves_nothing(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    unpaid = await send(gateway, asha, ravi.phone, "10.00", pay=False)
    _refused(unpaid, 403, "payment_token_required")
    garbage = await send(gateway, asha, ravi.phone, "10.00", token="not-a-token")
    _refused(garbage, 403, "payment_token_invalid")
    assert await _sent_by(transactions_db, asha) == 0
    assert await balance(gateway, asha) == "100.00"


async def test_a_payment_token_without_the_idempotency_key_it_names_is_a_400(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    token = await payment_token(gateway, asha, ravi.phone, "10.00", "k1")
    assert token is not None
    answer = await gateway.post(
        "/api/transactions",
        json={"receiver": ravi.phone, "amount": "10.00"},
        headers=asha.auth | {"X-Payment-Token": token},
    )
    _refused(answer, 400, "idempotency_key_required")
    assert await _sent_by(transactions_db, asha) == 0


async def test_a_token_for_another_amount_receiver_key_or_user_is_refused_and_moves_nothing(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    meera, _ = await two_people(gateway, ("Meera Iyer", "Kabir Das"))
    key = str(uuid.uuid4())
    token = await payment_token(gateway, asha, ravi.phone, "10.00", key)
    assert token is not None
    for answer in (
        await send(gateway, asha, ravi.phone, "11.00", key=key, token=token),
        await send(gateway, asha, meera.phone, "10.00", key=key, token=token),
        await send(gateway, asha, ravi.phone, "10.00", key=f"{key}-2", token=token),
        await send(gateway, meera, ravi.phone, "10.00", key=key, token=token),  # stolen
    ):
        _refused(answer, 403, "payment_token_invalid")
    assert await _sent_by(transactions_db, asha) == await _sent_by(transactions_db, meera) == 0
    # the receiver as typed differently is the same receiver: the token is still good
    spaced = ravi.phone.removeprefix("+91")
    paid = await send(gateway, asha, f"{spaced[:5]} {spaced[5:]}", "10", key=key, token=token)
    assert paid.status_code == 202, paid.text
    await settled(gateway, asha, paid.json()["id"])
    assert await balance(gateway, asha) == "90.00"


async def test_an_expired_payment_token_is_refused(
    gateway: httpx.AsyncClient, stack: Stack, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    keys = TokenKeys.from_settings(CommonSettings(data_dir=Path(stack.env["TIJORI_DATA_DIR"])))
    expired = keys.issue_payment(
        user_id=asha.id,
        amount_paise=100,
        receiver=ravi.phone,
        idempotency_key="late",
        ttl=timedelta(seconds=-1),  # signed by users' own key, two minutes ago
    )
    answer = await send(gateway, asha, ravi.phone, "1.00", key="late", token=expired)
    _refused(answer, 403, "payment_token_invalid")
    assert await _sent_by(transactions_db, asha) == 0


async def test_a_used_token_replays_its_own_payment_and_authorises_no_other(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    key = str(uuid.uuid4())
    token = await payment_token(gateway, asha, ravi.phone, "10.00", key)
    first = await send(gateway, asha, ravi.phone, "10.00", note="rent", key=key, token=token)
    assert first.status_code == 202, first.text
    # the same key, body and token: the same transaction, as it is now
    again = await send(gateway, asha, ravi.phone, "10.00", note="rent", key=key, token=token)
    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert again.headers.get("idempotent-replayed") == "true"
    await settled(gateway, asha, first.json()["id"])
    later = await send(gateway, asha, ravi.phone, "10.00", note="rent", key=key, token=token)
    assert (later.json()["id"], later.json()["status"]) == (first.json()["id"], "SUCCESS")
    # the same token for a new payment (a new key): refused
    reused = await send(gateway, asha, ravi.phone, "10.00", note="rent", token=token)
    _refused(reused, 403, "payment_token_invalid")
    # the same key with a new body: the key's conflict, whatever the token
    other = await send(gateway, asha, ravi.phone, "10.00", note="gift", key=key, token=token)
    _refused(other, 409, "idempotency_key_reused")
    assert await _sent_by(transactions_db, asha) == 1
    assert await balance(gateway, asha) == "90.00"


async def test_twenty_concurrent_requests_with_one_token_and_one_key_make_one_transaction(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    await send(gateway, asha, ravi.phone, "0.01")  # the transactions service knows both
    key = str(uuid.uuid4())
    token = await payment_token(gateway, asha, ravi.phone, "5.00", key)
    answers = await asyncio.gather(
        *(send(gateway, asha, ravi.phone, "5.00", key=key, token=token) for _ in range(20))
    )
    assert {answer.status_code for answer in answers} == {202}, [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await _sent_by(transactions_db, asha) == 2
    await settled(gateway, asha, answers[0].json()["id"])
    assert await balance(gateway, asha) == "94.99"
