"""Transfers end to end on the real stack: the saga, the ledger, idempotency, e-mails."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll
from tests.integration.conftest import PIN, Person, problem, sign_up, wallet_of
from tests.integration.stack import Stack
from tests.integration.transfers import balance, send, settled, two_people
from tijori.common.db import create_engine


@pytest.fixture(scope="module")
async def transactions_db(stack: Stack) -> Any:
    engine = create_engine(stack.database_url("transactions"))
    yield engine
    await engine.dispose()


async def _entries(wallets_db: AsyncEngine, reference: str) -> list[int]:
    async with wallets_db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT amount_paise FROM ledger_entries WHERE reference = :r ORDER BY amount_paise"
            ),
            {"r": reference},
        )
        return [int(amount) for amount in rows.scalars()]


async def _count_transactions(transactions_db: AsyncEngine, sender: Person) -> int:
    async with transactions_db.connect() as connection:
        return int(
            (
                await connection.execute(
                    text("SELECT COUNT(*) FROM transactions WHERE sender_id = :s"), {"s": sender.id}
                )
            ).scalar_one()
        )


async def test_money_moves_once_and_both_parties_see_it_and_get_mail(
    stack: Stack, gateway: httpx.AsyncClient, wallets_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    accepted = await send(gateway, asha, ravi.phone.removeprefix("+91"), "25.50", note="chai ☕")
    assert accepted.status_code == 202, accepted.text
    transaction = accepted.json()
    assert transaction["status"] == "PENDING"
    assert (transaction["amount"], transaction["currency"], transaction["direction"]) == (
        "25.50",
        "INR",
        "SENT",
    )
    assert transaction["sender"] == {"id": asha.id, "name": "Asha Rao"}
    assert transaction["receiver"] == {"id": ravi.id, "name": "Ravi Kumar"}

    done = await settled(gateway, asha, transaction["id"])
    assert (done["status"], done["reason"], done["note"]) == ("SUCCESS", None, "chai ☕")
    assert await balance(gateway, asha) == "74.50"
    assert await balance(gateway, ravi) == "125.50"
    assert await _entries(wallets_db, transaction["id"]) == [-2550, 2550]

    seen_by_ravi = (
        await gateway.get(f"/api/transactions/{transaction['id']}", headers=ravi.auth)
    ).json()
    assert seen_by_ravi["direction"] == "RECEIVED" and seen_by_ravi["status"] == "SUCCESS"
    [mine] = (await gateway.get("/api/transactions", headers=asha.auth)).json()["items"]
    [theirs] = (await gateway.get("/api/transactions", headers=ravi.auth)).json()["items"]
    assert (mine["id"], mine["direction"]) == (transaction["id"], "SENT")
    assert (theirs["id"], theirs["direction"]) == (transaction["id"], "RECEIVED")
    ravi_entries = (await gateway.get("/api/wallets/me/entries", headers=ravi.auth)).json()["items"]
    assert (ravi_entries[0]["kind"], ravi_entries[0]["amount"]) == ("TRANSFER", "25.50")

    sent = [m for m in await stack.wait_for_mails(asha.email, 2) if "sent" in m["Subject"]]
    received = [m for m in await stack.wait_for_mails(ravi.email, 2) if "received" in m["Subject"]]
    assert [m["Subject"] for m in sent] == ["You sent ₹25.50 to Ravi Kumar"]
    assert [m["Subject"] for m in received] == ["You received ₹25.50 from Asha Rao"]

    async def notified(person: Person, kind: str) -> Any:
        items = (await gateway.get("/api/notifications", headers=person.auth)).json()["items"]
        return [n for n in items if n["kind"] == kind and n["status"] == "SENT"]

    assert await poll(lambda: notified(asha, "TRANSFER_SENT"), what="the sender's notification")
    assert await poll(
        lambda: notified(ravi, "TRANSFER_RECEIVED"), what="the receiver's notification"
    )


async def test_the_receiver_can_be_named_by_email_in_any_case(gateway: httpx.AsyncClient) -> None:
    asha, ravi = await two_people(gateway)
    accepted = await send(gateway, asha, f"  {ravi.email.upper()} ", 1)
    assert accepted.status_code == 202, accepted.text
    assert (await settled(gateway, asha, accepted.json()["id"]))["status"] == "SUCCESS"


async def test_a_transfer_beyond_the_balance_is_refused_up_front_and_writes_nothing(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    refused = await send(gateway, asha, ravi.phone, "100.01")
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient_funds")
    assert await _count_transactions(transactions_db, asha) == 0
    assert await balance(gateway, asha) == "100.00"
    # pending debits count: two transfers of 60 cannot both be accepted
    first = await send(gateway, asha, ravi.phone, "60.00")
    second = await send(gateway, asha, ravi.phone, "60.00")
    assert first.status_code == 202
    assert (second.status_code, second.json()["code"]) == (422, "insufficient_funds")


async def test_when_two_transfers_pass_the_pre_check_but_only_one_fits_the_other_fails(
    stack: Stack, gateway: httpx.AsyncClient, transactions_db: AsyncEngine, wallets_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    warm_up = await send(gateway, asha, ravi.phone, "0.01")  # the transactions service knows asha
    await settled(gateway, asha, warm_up.json()["id"])
    # a stale view of the balance, as when a credit is still on its way: both pass the pre-check
    async with transactions_db.begin() as connection:
        await connection.execute(
            text("UPDATE accounts SET balance_paise = 1000000 WHERE user_id = :u"), {"u": asha.id}
        )
    answers = await asyncio.gather(*(send(gateway, asha, ravi.phone, "60.00") for _ in range(2)))
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    outcomes = [await settled(gateway, asha, a.json()["id"]) for a in answers]
    assert sorted((o["status"], o["reason"]) for o in outcomes) == [
        ("FAILED", "insufficient_funds"),
        ("SUCCESS", None),
    ]
    failed = next(o for o in outcomes if o["status"] == "FAILED")
    assert await _entries(wallets_db, failed["id"]) == []
    assert await balance(gateway, asha) == "39.99"
    assert await balance(gateway, ravi) == "160.01"
    mails = await stack.wait_for_mails(asha.email, 4)  # welcome, two sent, one failed
    [failure] = [m for m in mails if "failed" in m["Subject"]]
    assert "not enough balance" in failure.get_payload(decode=True).decode()


async def test_the_same_idempotency_key_and_body_give_the_same_transaction_and_one_debit(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)
    key = f"pay-ravi-{uuid.uuid4()}"
    first = await send(gateway, asha, ravi.phone, "10.00", note="rent", key=key)
    replay = await send(gateway, asha, ravi.phone, "10", note="rent", key=key)
    assert first.status_code == replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers.get("idempotent-replayed") == "true"
    await settled(gateway, asha, first.json()["id"])
    after = await send(gateway, asha, ravi.phone, "10.00", note="rent", key=key)
    assert (after.json()["id"], after.json()["status"]) == (first.json()["id"], "SUCCESS")
    assert await balance(gateway, asha) == "90.00"

    other = await send(gateway, asha, ravi.phone, "11.00", note="rent", key=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    # keys belong to their user: ravi may use the same key for his own transfer
    own = await send(gateway, ravi, asha.phone, "1.00", key=key)
    assert own.status_code == 202 and own.json()["id"] != first.json()["id"]

    concurrent_key = f"burst-{uuid.uuid4()}"
    burst = await asyncio.gather(
        *(send(gateway, asha, ravi.phone, "5.00", key=concurrent_key) for _ in range(6))
    )
    assert {a.status_code for a in burst} == {202}, [a.text for a in burst]
    assert len({a.json()["id"] for a in burst}) == 1
    assert await _count_transactions(transactions_db, asha) == 2
    await settled(gateway, asha, burst[0].json()["id"])
    await settled(gateway, ravi, own.json()["id"])
    assert await balance(gateway, asha) == "86.00"  # 100 - 10 + 1 (from ravi) - 5


async def test_idempotency_keys_that_differ_only_in_case_or_accent_are_different_keys(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    """Keys compare byte for byte on every database: on MariaDB's default collation
    (utf8mb4_unicode_ci) ``Invoice-A`` was ``invoice-a``, and the second, intended
    payment was answered with the first (issue 17)."""
    asha, ravi = await two_people(gateway)
    tag = uuid.uuid4().hex[:8].upper()
    # a header is bytes: b"\xe9" is é in Latin-1, which the collation took for e
    keys: list[str | bytes] = [f"Invoice-{tag}", f"invoice-{tag.lower()}", f"Invoice-{tag}e"]
    keys.append(f"Invoice-{tag}\xe9".encode("latin-1"))
    answers = [await send(gateway, asha, ravi.phone, "2.00", key=key) for key in keys]
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 4
    assert not any(a.headers.get("idempotent-replayed") for a in answers)
    # and each key still answers with its own transaction
    replays = [await send(gateway, asha, ravi.phone, "2.00", key=key) for key in keys]
    assert [r.json()["id"] for r in replays] == [a.json()["id"] for a in answers]
    assert await _count_transactions(transactions_db, asha) == 4
    for answer in answers:
        await settled(gateway, asha, answer.json()["id"])
    assert await balance(gateway, asha) == "92.00"


async def test_a_payment_to_an_accented_look_alike_of_an_address_reaches_no_one(
    gateway: httpx.AsyncClient,
) -> None:
    """The directory compares e-mail addresses as users does, byte for byte: under
    MariaDB's default collation a payment to ``rť-…`` went to the account at ``rt-…``, and
    a second account at ``rť-…`` could not be paid at all (issue 17)."""
    tag = uuid.uuid4().hex[:10]
    asha = await sign_up(gateway, name="Asha Rao", pin=PIN)
    ravi = await sign_up(gateway, name="Ravi Kumar", email=f"rt-{tag}@example.com")
    for person in (asha, ravi):
        await wallet_of(gateway, person)
    # the exact address, and any ASCII case of it, is Ravi
    for address in (ravi.email, f"RT-{tag}@Example.COM"):
        paid = await send(gateway, asha, address, "1.00")
        assert paid.status_code == 202, paid.text
        assert paid.json()["receiver"]["id"] == ravi.id
        await settled(gateway, asha, paid.json()["id"])
    look_alikes = [
        f"rť-{tag}@example.com",
        f"rt\u0301-{tag}@example.com",  # t and a combining accent: no precomposed form
        f"\uff52t-{tag}@example.com",  # a full-width r
        f"rt-{tag}@exämple.com",
    ]
    for address in look_alikes:
        problem(await send(gateway, asha, address, "1.00", wait_known=0), 404, "receiver_not_found")
    # each look-alike is an address of its own, whose owner gets what is sent to it
    twin = await sign_up(gateway, name="Ravi's twin", email=look_alikes[0])
    await wallet_of(gateway, twin)
    to_twin = await send(gateway, asha, twin.email, "5.00")
    assert to_twin.status_code == 202, to_twin.text
    assert to_twin.json()["receiver"]["id"] == twin.id
    assert (await settled(gateway, asha, to_twin.json()["id"]))["status"] == "SUCCESS"
    assert (await balance(gateway, ravi), await balance(gateway, twin)) == ("102.00", "105.00")
    assert await balance(gateway, asha) == "93.00"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "invalid_amount"),
        ("0.00", "invalid_amount"),
        (-1, "invalid_amount"),
        ("1.234", "invalid_amount"),
        ("abc", "invalid_amount"),
        (1e30, "invalid_amount"),
        (None, "invalid_amount"),
        (10**40, "invalid_amount"),
        ("100000.01", "invalid_amount"),
        (True, "invalid_amount"),
        ([], "invalid_amount"),
    ],
)
async def test_bad_amounts_are_refused_and_write_nothing(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine, amount: Any, code: str
) -> None:
    asha, ravi = await two_people(gateway)
    answer = await send(gateway, asha, ravi.phone, amount)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert await _count_transactions(transactions_db, asha) == 0


async def test_bad_receivers_notes_keys_and_tokens_are_clear_4xx(
    gateway: httpx.AsyncClient, transactions_db: AsyncEngine
) -> None:
    asha, ravi = await two_people(gateway)

    async def problem(answer: httpx.Response) -> tuple[int, str]:
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        return answer.status_code, answer.json()["code"]

    unknown = await send(gateway, asha, "+919000000001", 1, wait_known=0)
    assert await problem(unknown) == (404, "receiver_not_found")
    for receiver in ("not a phone", "12", "@", "a@b", "x" * 300, ""):
        answer = await send(gateway, asha, receiver, 1)
        assert answer.status_code == 422, (receiver, answer.text)
        assert answer.json()["code"] in ("invalid_receiver", "validation_error")
    assert await problem(await send(gateway, asha, asha.email, 1)) == (422, "self_transfer")
    assert await problem(await send(gateway, asha, ravi.phone, 1, note="n" * 141)) == (
        422,
        "invalid_note",
    )
    assert await problem(await send(gateway, asha, ravi.phone, 1, key="k" * 256)) == (
        422,
        "invalid_idempotency_key",
    )
    extra = await gateway.post(
        "/api/transactions",
        json={"receiver": ravi.phone, "amount": 1, "sender": ravi.id},
        headers=asha.auth,
    )
    assert await problem(extra) == (422, "validation_error")
    for raw in (b"", b"{", b"[]", b"null"):
        answer = await gateway.post(
            "/api/transactions",
            content=raw,
            headers=asha.auth | {"content-type": "application/json"},
        )
        assert answer.status_code == 422
    nobody = await gateway.post("/api/transactions", json={"receiver": ravi.phone, "amount": 1})
    assert await problem(nobody) == (401, "unauthorized")
    forged = await gateway.post(
        "/api/transactions",
        json={"receiver": ravi.phone, "amount": 1},
        headers={"Authorization": "Bearer " + asha.token[:-4] + "AAAA"},
    )
    assert await problem(forged) == (401, "invalid_token")
    assert await _count_transactions(transactions_db, asha) == 0


async def test_only_the_parties_and_an_admin_can_read_a_transaction(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    asha, ravi = await two_people(gateway)
    eve = await sign_up(gateway, name="Eve")
    txn = (await send(gateway, asha, ravi.phone, "1.00")).json()
    await settled(gateway, asha, txn["id"])
    hidden = await gateway.get(f"/api/transactions/{txn['id']}", headers=eve.auth)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "transaction_not_found")
    missing = await gateway.get(f"/api/transactions/{uuid.uuid4()}", headers=eve.auth)
    assert missing.json()["code"] == hidden.json()["code"]
    assert (await gateway.get("/api/transactions", headers=eve.auth)).json()["items"] == []
    assert (await gateway.get(f"/api/transactions/{txn['id']}")).status_code == 401

    assert stack.tijori("grant-admin", eve.email).returncode == 0
    token = (
        await gateway.post(
            "/api/auth/token", data={"username": eve.email, "password": eve.password}
        )
    ).json()["access_token"]
    read = await gateway.get(
        f"/api/transactions/{txn['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert read.status_code == 200 and read.json()["amount"] == "1.00"


async def test_history_pages_newest_first_and_filters_by_status_and_direction(
    gateway: httpx.AsyncClient,
) -> None:
    asha, ravi = await two_people(gateway)
    ids = []
    for amount in ("1.00", "2.00", "3.00", "4.00"):
        txn = (await send(gateway, asha, ravi.phone, amount)).json()
        ids.append(txn["id"])
    back = (await send(gateway, ravi, asha.phone, "5.00")).json()
    for txn_id in [*ids, back["id"]]:
        await settled(gateway, asha, txn_id)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await gateway.get("/api/transactions", headers=asha.auth, params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [back["id"], *reversed(ids)]

    received = (
        await gateway.get("/api/transactions", headers=asha.auth, params={"direction": "RECEIVED"})
    ).json()
    assert [i["id"] for i in received["items"]] == [back["id"]]
    success = (
        await gateway.get("/api/transactions", headers=asha.auth, params={"status": "SUCCESS"})
    ).json()
    assert len(success["items"]) == 5
    pending = (
        await gateway.get("/api/transactions", headers=asha.auth, params={"status": "PENDING"})
    ).json()
    assert pending["items"] == []
    for params in (
        {"status": "DONE"},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "forged"},
        {"direction": "UP"},
    ):
        answer = await gateway.get("/api/transactions", headers=asha.auth, params=params)
        assert answer.status_code == 422, params
