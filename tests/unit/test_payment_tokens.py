"""A transfer needs a payment token for exactly itself, and a token pays once
(issue 20): the check in the transactions route, and single use in acceptance."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.unit import transfers
from tijori.common.auth import (
    IdempotencyKeyRequiredError,
    PaymentAuthorisation,
    PaymentTokenError,
    TokenKeys,
)
from tijori.common.cache import MemoryCache
from tijori.common.config import CommonSettings
from tijori.common.db import UnitOfWorkFactory
from tijori.common.migrations import upgrade
from tijori.transactions import acceptance
from tijori.transactions.acceptor import TransferAcceptor
from tijori.transactions.app import create_app
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.models import Transaction
from tijori.transactions.schemas import TransferRequest

RECEIVER = "nobody@example.com"  # no wallet has it: a token that passes meets a 404


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TokenKeys]]:
    """The transactions service on SQLite with a logged-in sender, and the keys users
    signs with."""
    data_dir: Path = tmp_path_factory.mktemp("transactions")
    url = f"sqlite+aiosqlite:///{data_dir / 'transactions.db'}"
    with ThreadPoolExecutor(max_workers=1) as worker:  # Alembic runs its own event loop
        worker.submit(upgrade, "transactions", url).result()
    app = create_app(TransactionsSettings(data_dir=data_dir, TIJORI_TRANSACTIONS_DATABASE_URL=url))
    keys = TokenKeys.from_settings(CommonSettings(data_dir=data_dir))
    access = keys.issue(user_id="sender-1", authority="USER", ttl=timedelta(hours=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["authorization"] = f"Bearer {access}"
        yield client, keys


def _token(keys: TokenKeys, **changes: Any) -> str:
    bound: dict[str, Any] = {
        "user_id": "sender-1",
        "amount_paise": 2_550,
        "receiver": RECEIVER,
        "idempotency_key": "key-1",
        "ttl": timedelta(minutes=2),
    }
    return keys.issue_payment(**(bound | changes))


def _pay(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post(
        "/api/transactions",
        json={"receiver": "Nobody@Example.com", "amount": "25.50"},
        headers=headers,
    )


def test_a_transfer_without_a_payment_token_is_refused(
    service: tuple[TestClient, TokenKeys],
) -> None:
    client, _ = service
    answer = _pay(client, {"Idempotency-Key": "key-1"})
    assert (answer.status_code, answer.json()["code"]) == (403, "payment_token_required")
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_malformed_transfer_hears_what_is_wrong_with_it_first(
    service: tuple[TestClient, TokenKeys],
) -> None:
    client, _ = service
    for body, code in (
        ({"receiver": RECEIVER, "amount": "1.001"}, "invalid_amount"),
        ({"receiver": RECEIVER, "amount": "100000.01"}, "invalid_amount"),
        ({"receiver": "not a phone", "amount": "1"}, "invalid_receiver"),
    ):
        answer = client.post("/api/transactions", json=body, headers={"Idempotency-Key": "k"})
        assert (answer.status_code, answer.json()["code"]) == (422, code)


def test_a_payment_token_without_its_idempotency_key_is_a_400(
    service: tuple[TestClient, TokenKeys],
) -> None:
    client, keys = service
    answer = _pay(client, {"X-Payment-Token": _token(keys)})
    assert (answer.status_code, answer.json()["code"]) == (400, "idempotency_key_required")


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_paise": 2_551},
        {"receiver": "somebody@example.com"},
        {"receiver": None},
        {"idempotency_key": "key-2"},
        {"user_id": "sender-2"},
        {"ttl": timedelta(seconds=-1)},
    ],
    ids=["other-amount", "other-receiver", "no-receiver", "other-key", "other-user", "expired"],
)
def test_a_token_for_another_payment_or_expired_is_refused_before_anything_is_looked_up(
    service: tuple[TestClient, TokenKeys], changes: dict[str, Any]
) -> None:
    """The receiver does not exist: a 403, not its 404, shows the token is checked first."""
    client, keys = service
    answer = _pay(client, {"Idempotency-Key": "key-1", "X-Payment-Token": _token(keys, **changes)})
    assert (answer.status_code, answer.json()["code"]) == (403, "payment_token_invalid")


def test_an_access_token_or_a_forged_one_is_no_payment_token(
    service: tuple[TestClient, TokenKeys],
) -> None:
    client, keys = service
    access = keys.issue(user_id="sender-1", authority="USER", ttl=timedelta(minutes=2))
    forged = _token(transfers.KEYS)  # signed by a key that is not users'
    for token in (access, forged, "a.b.c"):
        answer = _pay(client, {"Idempotency-Key": "key-1", "X-Payment-Token": token})
        assert (answer.status_code, answer.json()["code"]) == (403, "payment_token_invalid")


def test_the_right_token_passes_the_check(service: tuple[TestClient, TokenKeys]) -> None:
    client, keys = service
    answer = _pay(client, {"Idempotency-Key": "key-1", "X-Payment-Token": _token(keys)})
    assert (answer.status_code, answer.json()["code"]) == (404, "receiver_not_found")


def test_the_route_documents_its_payment_token_and_its_problems(
    service: tuple[TestClient, TokenKeys],
) -> None:
    client, _ = service
    send = client.get("/openapi.json").json()["paths"]["/api/transactions"]["post"]
    assert "X-Payment-Token" in {parameter["name"] for parameter in send["parameters"]}
    examples = {
        status: set(send["responses"][status]["content"]["application/problem+json"]["examples"])
        for status in ("400", "403")
    }
    assert examples == {
        "400": {"idempotency_key_required"},
        "403": {"payment_token_required", "payment_token_invalid"},
    }


def test_a_grant_needs_an_idempotency_key_and_names_its_token() -> None:
    request = TransferRequest(receiver="ravi@x.co", amount="1.00")
    payment = transfers.paid(request, "k")
    with pytest.raises(IdempotencyKeyRequiredError):
        payment.grant(amount_paise=100, receiver="ravi@x.co", idempotency_key=None)
    grant = payment.grant(amount_paise=100, receiver="ravi@x.co", idempotency_key="k")
    assert uuid.UUID(grant.token_id)
    other = PaymentAuthorisation(token=payment.token, user_id="ravi", keys=payment.keys)
    with pytest.raises(PaymentTokenError):
        other.grant(amount_paise=100, receiver="ravi@x.co", idempotency_key="k")


async def _count(units: UnitOfWorkFactory) -> int:
    async with units() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Transaction)) or 0)


async def test_the_same_key_and_body_replay_their_transaction_with_either_token(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    """A client whose answer was lost asks the PIN again: a second token for the same
    payment (same key) replays the one transaction and pays nothing more."""
    first = await transfers.accept(transactions_units, known, "5.00", key="lost")
    request = TransferRequest(receiver="RAVI@x.co", amount="5.00")
    for payment in (None, transfers.paid(request, "lost")):
        again = await transfers.accept(
            transactions_units, known, "5.00", key="lost", payment=payment
        )
        assert again.replayed and again.transaction.id == first.transaction.id
    assert await _count(transactions_units) == 1
    async with transactions_units() as uow:
        stored = await uow.session.scalar(select(Transaction.payment_token_id))
    assert stored is not None and uuid.UUID(stored)


async def test_a_token_that_authorised_a_transaction_authorises_no_other(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    """The unique token id refuses a second transaction even were the token's key not
    enough (a real token names one key: here the candidate is made by hand)."""
    first = await transfers.candidate(transactions_units, known, "2.00", key="first")
    await TransferAcceptor(transactions_units).accept(first)
    second = await transfers.candidate(transactions_units, known, "2.00", key="second")
    reused = dataclasses.replace(second, payment_token_id=first.payment_token_id)
    fresh = await transfers.candidate(transactions_units, known, "3.00", key="third")
    acceptor = TransferAcceptor(transactions_units)
    outcomes = await asyncio.gather(
        acceptor.accept(reused), acceptor.accept(fresh), return_exceptions=True
    )
    assert isinstance(outcomes[0], PaymentTokenError)
    assert outcomes[0].code == "payment_token_invalid"
    assert isinstance(outcomes[1], acceptance.Accepted)  # its batch-mate is stored alone
    assert await _count(transactions_units) == 2
