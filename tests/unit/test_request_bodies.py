"""Request bodies as every service reads them, in-process: a key given twice is refused,
and an amount is taken exactly as written or not at all (issue 17)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tijori.common.auth import TokenKeys
from tijori.common.config import CommonSettings
from tijori.common.migrations import upgrade
from tijori.notifications.app import create_app as notifications_app
from tijori.notifications.config import NotificationsSettings
from tijori.transactions.app import create_app as transactions_app
from tijori.transactions.config import TransactionsSettings
from tijori.users.app import create_app as users_app
from tijori.users.config import UsersSettings
from tijori.wallets.app import create_app as wallets_app
from tijori.wallets.config import WalletsSettings

# The whole grammar of an amount, as the specification (docs/errors.md).
AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
MAX_PAISE = 10**15


def _apps(data_dir: Path) -> list[FastAPI]:
    return [
        users_app(UsersSettings(data_dir=data_dir)),
        wallets_app(WalletsSettings(data_dir=data_dir)),
        transactions_app(TransactionsSettings(data_dir=data_dir)),
        notifications_app(NotificationsSettings(data_dir=data_dir)),
    ]


def _routes_with_a_body(app: FastAPI) -> list[tuple[str, str]]:
    operations = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, item in operations.items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


def test_every_route_of_every_service_reads_json_strictly(tmp_path: Path) -> None:
    for app in _apps(tmp_path):
        for route in app.routes:
            if isinstance(route, APIRoute):
                assert type(route).__name__ == "StrictJsonRoute", (app.title, route.path)


@pytest.mark.parametrize(
    "service", range(4), ids=["users", "wallets", "transactions", "notifications"]
)
def test_a_body_with_a_key_twice_is_refused_on_every_route(tmp_path: Path, service: int) -> None:
    app = _apps(tmp_path)[service]
    routes = _routes_with_a_body(app)
    assert routes or app.title in ("Tijori wallets", "Tijori notifications")
    with TestClient(app) as client:  # no database is reached: the body is refused first
        _refuse_duplicates(client, routes)


def _refuse_duplicates(client: TestClient, routes: list[tuple[str, str]]) -> None:
    for method, path in routes:
        for body in (
            b'{"amount":"0.01","amount":"50.00"}',
            b'{"receiver":"a@x.co","note":{"a":1,"a":2}}',
            b'[{"username":"a","username":"b"}]',
        ):
            response = client.request(
                method,
                re.sub(r"\{[^}]+\}", "x", path),
                content=body,
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 422, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["code"] == "duplicate_key", (method, path, problem)
            assert problem["errors"][0]["code"] == "duplicate_key"


def test_every_route_with_a_body_documents_duplicate_key(tmp_path: Path) -> None:
    for app in _apps(tmp_path):
        document = app.openapi()
        for method, path in _routes_with_a_body(app):
            examples = document["paths"][path][method.lower()]["responses"]["422"]["content"][
                "application/problem+json"
            ]["examples"]
            assert "duplicate_key" in examples, (method, path)


@pytest.fixture(scope="module")
def sender(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The transactions service on SQLite, with a logged-in sender and a ceiling above
    any amount, so that an amount it takes reaches the receiver check (404)."""
    data_dir = tmp_path_factory.mktemp("transactions")
    url = f"sqlite+aiosqlite:///{data_dir / 'transactions.db'}"
    with ThreadPoolExecutor(max_workers=1) as worker:  # Alembic runs its own event loop
        worker.submit(upgrade, "transactions", url).result()
    app = transactions_app(
        TransactionsSettings(
            data_dir=data_dir,
            TIJORI_TRANSACTIONS_DATABASE_URL=url,
            max_transfer="10000000000000.00",
        )
    )
    keys = TokenKeys.from_settings(CommonSettings(data_dir=data_dir))
    token = keys.issue(user_id="sender-1", authority="USER", ttl=timedelta(hours=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["authorization"] = f"Bearer {token}"
        yield client


def _send(client: TestClient, amount_json: str, paise: int) -> Any:
    """POST the amount as written, with the payment token users would sign for ``paise``
    (a refused amount is refused before its token is checked)."""
    # signed as users signs (with the data dir's key): transactions holds no signing key
    data_dir = client.app.state.runtime.settings.data_dir  # type: ignore[attr-defined]
    keys = TokenKeys.from_settings(CommonSettings(data_dir=data_dir))
    token = keys.issue_payment(
        user_id="sender-1",
        amount_paise=paise,
        receiver="nobody@example.com",
        idempotency_key="amounts",
        ttl=timedelta(minutes=2),
    )
    body = '{"receiver": "nobody@example.com", "amount": ' + amount_json + "}"
    headers = {
        "content-type": "application/json",
        "Idempotency-Key": "amounts",
        "X-Payment-Token": token,
    }
    return client.post("/api/transactions", content=body, headers=headers)


def _is_json_number(text: str) -> bool:
    try:
        return isinstance(json.loads(text), int | float) and text == text.strip()
    except ValueError:
        return False


_NEAR_AMOUNTS = st.text(
    alphabet=st.sampled_from("0123456789..eE+-_ ,\u0661\u0969\uff15\u00a0"), max_size=30
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(_NEAR_AMOUNTS, st.text(max_size=30), st.from_regex(AMOUNT, fullmatch=True)))
@example("1_0")
@example("\u0661\u0660")
@example("\u0967\u0966")
@example("\uff11\uff10")
@example("0.99999999999999999999999999999")
@example("1.0000000000000000000000000001")
@example("1e999999")
@example("-1e999999")
@example("1E+999999999")
@example("-1E+999999999")
@example("1e2")
@example("25.50")
@example("0.00")
def test_an_amount_is_taken_as_written_or_refused_never_a_5xx(
    sender: TestClient, text: str
) -> None:
    """The same text as a JSON string and, where it is one, as a JSON number: an amount
    (positive, within bounds) reaches the receiver check, anything else is 422
    invalid_amount; nothing is a 5xx and nothing is rounded into an amount."""
    is_amount = AMOUNT.fullmatch(text) is not None and 0 < Decimal(text) * 100 <= MAX_PAISE
    sent = [json.dumps(text)] + ([text] if _is_json_number(text) else [])
    paise = int(Decimal(text) * 100) if is_amount else 1
    for amount_json in sent:
        response = _send(sender, amount_json, paise)
        assert response.status_code < 500, (amount_json, response.text)
        code = response.json()["code"]
        if is_amount:
            assert (response.status_code, code) == (404, "receiver_not_found"), amount_json
        else:
            assert (response.status_code, code) == (422, "invalid_amount"), amount_json
