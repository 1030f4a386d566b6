"""Adding money through the gateway sandbox and withdrawing it, on the running stack:
every top-up credited once or refunded, every withdrawal's hold posted or voided once."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import poll
from tests.integration.conftest import Person, problem, set_pin, sign_up, wallet_of
from tests.integration.payments import (
    BANK,
    WEBHOOK,
    add_money,
    checkout,
    checkout_signature,
    order_deliveries,
    payment_token,
    sandbox,
    sandbox_api,
    signed,
    topup_status,
    upgrade_to_full,
    webhook_signature,
    webhooks_settled,
    withdraw,
    withdrawal_status,
)
from tests.integration.stack import Stack


async def _entries(wallets_db: AsyncEngine, reference: str) -> int:
    async with wallets_db.connect() as connection:
        count = await connection.scalar(
            text("SELECT COUNT(*) FROM ledger_entries WHERE reference = :reference"),
            {"reference": reference},
        )
    return int(count or 0)


@pytest.fixture
async def payer(gateway: httpx.AsyncClient) -> Person:
    person = await sign_up(gateway, name="Asha Rao")
    await wallet_of(gateway, person)
    await set_pin(gateway, person)
    return person


@pytest.fixture
async def withdrawer(gateway: httpx.AsyncClient, payer: Person) -> Person:
    """A payer upgraded to full KYC in the sandbox: only full-KYC wallets withdraw."""
    await upgrade_to_full(gateway, payer)
    return payer


async def test_a_minimum_kyc_wallet_cannot_withdraw(
    gateway: httpx.AsyncClient, payer: Person
) -> None:
    refused = await withdraw(gateway, payer, "10.00")
    problem(refused, 422, "kyc_required")
    listed = await gateway.get("/api/payments/withdrawals", headers=payer.auth)
    assert listed.json()["items"] == []
    assert (await wallet_of(gateway, payer))["available"] == "100.00"


async def test_money_added_at_the_checkout_is_credited_once_and_e_mailed(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    topup = await add_money(gateway, payer, "500")
    assert topup["status"] == "CREATED" and topup["amount"] == "500.00"
    assert topup["order_id"].startswith("order_")
    back = await checkout(topup["checkout_url"])
    assert back.headers["location"].endswith(f"#/topups/{topup['id']}?result=paid")
    credited = await topup_status(gateway, payer, topup["id"], "CREDITED")
    assert credited["checkout_url"] is None
    wallet = await wallet_of(gateway, payer)
    assert wallet["balance"] == "600.00" and wallet["available"] == "600.00"
    assert await _entries(wallets_db, f"topup:{topup['id']}") == 2
    mails = await stack.wait_for_mails(payer.email, 2)
    assert any(mail["Subject"] == "₹500.00 added to your Tijori wallet" for mail in mails)
    listed = await gateway.get("/api/payments/topups", headers=payer.auth)
    assert [item["id"] for item in listed.json()["items"]] == [topup["id"]]


async def test_a_webhook_delivered_five_times_credits_once(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    async with sandbox(stack) as control:
        await control.put("/webhooks/behaviour", json={"duplicate": 5})
        topup = await add_money(gateway, payer, "20.00")
        await checkout(topup["checkout_url"], follow_return=False)
        await webhooks_settled(control)
        await topup_status(gateway, payer, topup["id"], "CREDITED")
        captured = await order_deliveries(control, topup["order_id"], "payment.captured")
    assert len(captured) == 5 and len({item["event_id"] for item in captured}) == 1
    assert (await wallet_of(gateway, payer))["balance"] == "120.00"
    assert await _entries(wallets_db, f"topup:{topup['id']}") == 2


async def test_a_lost_webhook_is_settled_by_asking_the_gateway(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack
) -> None:
    async with sandbox(stack) as control:
        await control.put("/webhooks/behaviour", json={"drop": 3})  # authorized, captured, paid
        topup = await add_money(gateway, payer, "30.00")
        await checkout(topup["checkout_url"], follow_return=False)  # the browser never returns
        # nothing tells payments: after TIJORI_TOPUP_CHECK_AFTER_SECONDS it asks the gateway
        await topup_status(gateway, payer, topup["id"], "CREDITED", timeout=30)
    assert (await wallet_of(gateway, payer))["balance"] == "130.00"


async def test_a_webhook_later_than_the_gateway_check_credits_nothing_more(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    async with sandbox(stack) as control:
        # later than TIJORI_TOPUP_CHECK_AFTER_SECONDS (3 s here): payments asks first
        await control.put("/webhooks/behaviour", json={"delay_seconds": 6})
        topup = await add_money(gateway, payer, "35.00")
        await checkout(topup["checkout_url"], follow_return=False)
        await topup_status(gateway, payer, topup["id"], "CREDITED", timeout=30)
        await webhooks_settled(control)  # the late events, delivered and answered 200
        late = await order_deliveries(control, topup["order_id"], "payment.captured")
    assert [item["status"] for item in late] == ["delivered"]
    assert (await wallet_of(gateway, payer))["balance"] == "135.00"
    assert await _entries(wallets_db, f"topup:{topup['id']}") == 2


async def test_webhooks_delivered_newest_first_never_move_a_top_up_back(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    async with sandbox(stack) as control:
        # payment.authorized, payment.captured and order.paid arrive in reverse
        await control.put("/webhooks/behaviour", json={"reorder": 3})
        topup = await add_money(gateway, payer, "45.00")
        await checkout(topup["checkout_url"], follow_return=False)
        await webhooks_settled(control)
        await topup_status(gateway, payer, topup["id"], "CREDITED")
        order = [item["event"] for item in await order_deliveries(control, topup["order_id"])]
    assert order[0] != "payment.authorized", order  # the events really came out of order
    await asyncio.sleep(1)  # a late event that moved it back would show by now
    assert (await topup_status(gateway, payer, topup["id"], "CREDITED"))["status"] == "CREDITED"
    assert (await wallet_of(gateway, payer))["balance"] == "145.00"
    assert await _entries(wallets_db, f"topup:{topup['id']}") == 2


async def test_a_failed_payment_fails_the_top_up_and_a_late_failure_never_undoes_a_credit(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack
) -> None:
    failed = await add_money(gateway, payer, "40.00")
    back = await checkout(failed["checkout_url"], "fail")
    assert back.headers["location"].endswith("result=failed")
    assert (await topup_status(gateway, payer, failed["id"], "FAILED"))["reason"]
    paid = await add_money(gateway, payer, "50.00")
    await checkout(paid["checkout_url"])
    await topup_status(gateway, payer, paid["id"], "CREDITED")
    body, headers = signed(
        "payment.failed",
        {"payment": {"entity": {"id": "pay_late", "order_id": paid["order_id"], "amount": 5000,
                                "status": "failed", "error_code": "BAD_REQUEST_ERROR"}}},
    )  # fmt: skip
    answer = await gateway.post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (await topup_status(gateway, payer, paid["id"], "CREDITED"))["status"] == "CREDITED"
    assert (await wallet_of(gateway, payer))["balance"] == "150.00"


async def test_the_checkout_return_is_checked_against_the_stored_order(
    gateway: httpx.AsyncClient, payer: Person
) -> None:
    topup = await add_money(gateway, payer, "10.00")
    forged = checkout_signature("order_SomeoneElses", "pay_forged")
    answer = await gateway.get(
        f"/api/payments/topups/{topup['id']}/return",
        params={"razorpay_payment_id": "pay_forged", "razorpay_order_id": topup["order_id"],
                "razorpay_signature": forged},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"#/topups/{topup['id']}?result=invalid_signature")
    status = (await gateway.get(f"/api/payments/topups/{topup['id']}", headers=payer.auth)).json()
    assert status["status"] == "CREATED"


async def test_bad_webhooks_get_a_clear_error_and_change_nothing(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack
) -> None:
    topup = await add_money(gateway, payer, "60.00")
    forged = {"id": "pay_NeverMade0001", "order_id": topup["order_id"], "amount": 6000,
              "status": "captured"}  # fmt: skip
    body, headers = signed("payment.captured", {"payment": {"entity": forged}})
    unsigned = {key: value for key, value in headers.items() if key != "X-Razorpay-Signature"}
    problem(await gateway.post(WEBHOOK, content=body, headers=unsigned), 400, "invalid_signature")
    wrong = headers | {"X-Razorpay-Signature": "0" * 64}
    problem(await gateway.post(WEBHOOK, content=body, headers=wrong), 400, "invalid_signature")
    changed = body.replace(b"6000", b"9000")
    problem(await gateway.post(WEBHOOK, content=changed, headers=headers), 400, "invalid_signature")
    _, other_secret = signed("payment.captured", {"payment": {"entity": forged}}, "not-ours")
    problem(
        await gateway.post(WEBHOOK, content=body, headers=other_secret), 400, "invalid_signature"
    )
    garbage = b"{not json"
    garbage_headers = signed("x", {})[1] | {"X-Razorpay-Signature": webhook_signature(garbage)}
    problem(
        await gateway.post(WEBHOOK, content=garbage, headers=garbage_headers),
        400,
        "invalid_webhook",
    )
    no_id = {key: value for key, value in headers.items() if key != "X-Razorpay-Event-Id"}
    problem(await gateway.post(WEBHOOK, content=body, headers=no_id), 400, "invalid_webhook")
    big, big_headers = signed("payment.captured", {"pad": "x" * 300_000})
    problem(await gateway.post(WEBHOOK, content=big, headers=big_headers), 413, "payload_too_large")
    for amount, order, result in ((9000, topup["order_id"], "amount_mismatch"),
                                  (6000, "order_Unknown000001", "unknown_order")):  # fmt: skip
        entity = forged | {"amount": amount, "order_id": order}
        other, other_headers = signed("payment.captured", {"payment": {"entity": entity}})
        answer = await gateway.post(WEBHOOK, content=other, headers=other_headers)
        assert answer.status_code == 200 and answer.json()["status"] == result, answer.text
    status = (await gateway.get(f"/api/payments/topups/{topup['id']}", headers=payer.auth)).json()
    assert status["status"] == "CREATED"
    assert (await wallet_of(gateway, payer))["balance"] == "100.00"
    # the real payment's webhook, lost, then delivered twice with one event id: applied once
    async with sandbox(stack) as control:
        await control.put("/webhooks/behaviour", json={"drop": 3})
        await checkout(topup["checkout_url"], follow_return=False)
        await webhooks_settled(control)
    async with sandbox_api(stack) as api:
        payment = (await api.get(f"/v1/orders/{topup['order_id']}/payments")).json()
    real = {"payment": {"entity": payment["items"][0]}}
    body, headers = signed("payment.captured", real)
    first = await gateway.post(WEBHOOK, content=body, headers=headers)
    # "duplicate": payments asked the gateway first (after TIJORI_TOPUP_CHECK_AFTER_SECONDS)
    assert first.status_code == 200 and first.json()["status"] in ("captured", "duplicate")
    again = await gateway.post(WEBHOOK, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    await topup_status(gateway, payer, topup["id"], "CREDITED")
    assert (await wallet_of(gateway, payer))["balance"] == "160.00"


async def test_bad_top_ups_get_a_clear_error(gateway: httpx.AsyncClient, payer: Person) -> None:
    for amount in ("0", "-5", "1.005", "abc", 0, None):
        answer = await gateway.post(
            "/api/payments/topups", json={"amount": amount}, headers=payer.auth
        )
        assert answer.status_code == 422, answer.text
    problem(
        await gateway.post("/api/payments/topups", json={"amount": "10000.01"}, headers=payer.auth),
        422,
        "limit_exceeded",
    )
    listed = await gateway.get("/api/payments/topups", headers=payer.auth)
    assert listed.json()["items"] == []


async def test_a_top_up_past_the_balance_cap_is_refunded_not_credited(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    topup = await add_money(gateway, payer, "10000")  # with the 100.00 promotion: over 10,000
    await checkout(topup["checkout_url"])
    refunded = await topup_status(gateway, payer, topup["id"], "REFUNDED")
    # refused as a withdrawal or a transfer over a limit is: limit_exceeded, naming it
    assert (refunded["reason"], refunded["limit"]) == ("limit_exceeded", "balance_cap")
    listed = (await gateway.get("/api/payments/topups", headers=payer.auth)).json()["items"]
    assert [(item["id"], item["reason"], item["limit"]) for item in listed] == [
        (topup["id"], "limit_exceeded", "balance_cap")
    ]
    assert (await wallet_of(gateway, payer))["balance"] == "100.00"
    assert await _entries(wallets_db, f"topup:{topup['id']}") == 0
    async with sandbox_api(stack) as api:
        [payment] = (await api.get(f"/v1/orders/{topup['order_id']}/payments")).json()["items"]
        [refund] = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["items"]
    assert refund["notes"] == {
        "topup_id": topup["id"],
        "reason": "limit_exceeded",
        "limit": "balance_cap",
    }
    mails = await stack.wait_for_mails(payer.email, 2)
    [mail] = [mail for mail in mails if "refunded" in str(mail["Subject"])]
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "it would take your wallet above its balance limit" in body
    assert "(reason: limit_exceeded)" in body


async def test_gateway_down_while_an_order_is_created_makes_nothing(
    gateway: httpx.AsyncClient, payer: Person, stack: Stack
) -> None:
    async with sandbox(stack) as control:
        await control.put("/down", json={})
        problem(
            await gateway.post("/api/payments/topups", json={"amount": "10"}, headers=payer.auth),
            503,
            "gateway_unavailable",
        )
    assert (await gateway.get("/api/payments/topups", headers=payer.auth)).json()["items"] == []


async def test_a_withdrawal_holds_the_money_then_pays_it_out_once(
    gateway: httpx.AsyncClient, withdrawer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    answer = await withdraw(gateway, withdrawer, "60.00")
    assert answer.status_code == 202, answer.text
    withdrawal = answer.json()
    assert withdrawal["status"] == "REQUESTED"
    assert withdrawal["account"] == {
        "name": "Asha Rao",
        "ifsc": "HDFC0001234",
        "account_last4": "6789",
    }
    done = await withdrawal_status(gateway, withdrawer, withdrawal["id"], "PROCESSED")
    assert done["payout_id"].startswith("pout_")
    # the hold was placed before the payout was asked for: it is held or posted now
    assert (await wallet_of(gateway, withdrawer))["available"] == "40.00"

    async def posted() -> bool:
        wallet = await wallet_of(gateway, withdrawer)
        return bool(wallet["balance"] == "40.00" and wallet["available"] == "40.00")

    await poll(posted, what="the hold to be posted")
    assert await _entries(wallets_db, f"withdrawal:{withdrawal['id']}") == 2
    mails = await stack.wait_for_mails(withdrawer.email, 3)  # welcome, KYC verified, sent
    assert any(mail["Subject"] == "₹60.00 sent to your bank account" for mail in mails)


@pytest.mark.parametrize(("outcome", "status"), [("failed", "FAILED"), ("reversed", "REVERSED")])
async def test_a_failed_or_reversed_payout_gives_the_money_back(
    gateway: httpx.AsyncClient,
    withdrawer: Person,
    stack: Stack,
    wallets_db: AsyncEngine,
    outcome: str,
    status: str,
) -> None:
    async with sandbox(stack) as control:
        await control.post("/payouts/outcomes", json={"outcomes": [outcome]})
        answer = await withdraw(gateway, withdrawer, "70.00")
        assert answer.status_code == 202, answer.text
        withdrawal = await withdrawal_status(gateway, withdrawer, answer.json()["id"], status)

    async def back() -> bool:
        wallet = await wallet_of(gateway, withdrawer)
        return bool(wallet["balance"] == "100.00" and wallet["available"] == "100.00")

    await poll(back, what="the money back in the wallet")
    posted = await _entries(wallets_db, f"withdrawal:{withdrawal['id']}")
    returned = await _entries(wallets_db, f"return:{withdrawal['id']}")
    assert (posted, returned) == ((0, 0) if outcome == "failed" else (2, 2))
    subject = "failed" if outcome == "failed" else "came back"

    async def told() -> bool:
        return any(subject in str(mail["Subject"]) for mail in stack.mails_to(withdrawer.email))

    await poll(told, what=f"the e-mail that the withdrawal {subject}")


async def test_payout_webhooks_delivered_newest_first_post_and_return_once(
    gateway: httpx.AsyncClient, withdrawer: Person, stack: Stack, wallets_db: AsyncEngine
) -> None:
    async with sandbox(stack) as control:
        await control.post("/payouts/outcomes", json={"outcomes": ["reversed"]})
        # payout.initiated, payout.processed and payout.reversed arrive reversed first
        await control.put("/webhooks/behaviour", json={"reorder": 3})
        answer = await withdraw(gateway, withdrawer, "25.00")
        assert answer.status_code == 202, answer.text
        withdrawal = await withdrawal_status(gateway, withdrawer, answer.json()["id"], "REVERSED")
        await webhooks_settled(control)

    async def back() -> bool:
        wallet = await wallet_of(gateway, withdrawer)
        return bool(wallet["balance"] == "100.00" and wallet["available"] == "100.00")

    await poll(back, what="the reversed payout's money back")
    await asyncio.sleep(1)  # a late processed or initiated event would show by now
    assert (await withdrawal_status(gateway, withdrawer, withdrawal["id"], "REVERSED"))["payout_id"]
    assert (await wallet_of(gateway, withdrawer))["balance"] == "100.00"
    posted = await _entries(wallets_db, f"withdrawal:{withdrawal['id']}")
    returned = await _entries(wallets_db, f"return:{withdrawal['id']}")
    assert (posted, returned) == (2, 2)


async def test_bad_withdrawals_get_a_clear_error_and_change_nothing(
    gateway: httpx.AsyncClient, withdrawer: Person
) -> None:
    for field, value in (("ifsc", "HDFC1234567"), ("ifsc", "HDF0001234"),
                         ("account_number", "12345678"), ("account_number", "1234567890123456789"),
                         ("account_number", "12345abc90"), ("account_name", "   ")):  # fmt: skip
        problem(await withdraw(gateway, withdrawer, "10", account=BANK | {field: value}), 422,
              "invalid_bank_account")  # fmt: skip
    key = str(uuid.uuid4())
    body = {"amount": "10"} | BANK
    nothing = await gateway.post("/api/payments/withdrawals", json=body, headers=withdrawer.auth)
    problem(nothing, 403, "payment_token_required")
    some_token = await payment_token(gateway, withdrawer, "10", key)
    no_key = await gateway.post(
        "/api/payments/withdrawals",
        json=body,
        headers=withdrawer.auth | {"X-Payment-Token": some_token},
    )
    problem(no_key, 400, "idempotency_key_required")
    no_token = await gateway.post(
        "/api/payments/withdrawals", json=body, headers=withdrawer.auth | {"Idempotency-Key": key}
    )
    problem(no_token, 403, "payment_token_required")
    other_amount = await payment_token(gateway, withdrawer, "11", key)
    problem(await withdraw(gateway, withdrawer, "10", key=key, token=other_amount), 403,
          "payment_token_invalid")  # fmt: skip
    other_key = await payment_token(gateway, withdrawer, "10", "another key")
    problem(await withdraw(gateway, withdrawer, "10", key=key, token=other_key), 403,
          "payment_token_invalid")  # fmt: skip
    problem(await withdraw(gateway, withdrawer, "0", token="unused"), 422, "invalid_amount")
    listed = await gateway.get("/api/payments/withdrawals", headers=withdrawer.auth)
    assert listed.json()["items"] == []
    first = await withdraw(gateway, withdrawer, "10", key=key)
    assert first.status_code == 202
    replay = await withdraw(gateway, withdrawer, "10", key=key)
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    problem(await withdraw(gateway, withdrawer, "11", key=key), 409, "idempotency_key_reused")
    token = await payment_token(gateway, withdrawer, "12", "k-used")
    assert (await withdraw(gateway, withdrawer, "12", key="k-used", token=token)).status_code == 202
    # the same token for another key cannot pay again; it is bound to its key anyway
    problem(await withdraw(gateway, withdrawer, "12", key="k-other", token=token), 403,
          "payment_token_invalid")  # fmt: skip


async def test_a_withdrawal_of_more_than_is_available_is_refused_at_once(
    gateway: httpx.AsyncClient, withdrawer: Person
) -> None:
    body = problem(await withdraw(gateway, withdrawer, "100.01"), 422, "insufficient_funds")
    assert "₹100.00 is available" in body["detail"]
    held = await withdraw(gateway, withdrawer, "60.00")
    assert held.status_code == 202, held.text
    await withdrawal_status(gateway, withdrawer, held.json()["id"], "PROCESSED")
    # what is available counts the money already withdrawn (or still held)
    problem(await withdraw(gateway, withdrawer, "40.01"), 422, "insufficient_funds")
    listed = await gateway.get("/api/payments/withdrawals", headers=withdrawer.auth)
    assert [item["id"] for item in listed.json()["items"]] == [held.json()["id"]]


async def test_twenty_concurrent_withdrawals_of_the_whole_balance_hold_at_most_once(
    gateway: httpx.AsyncClient, withdrawer: Person, wallets_db: AsyncEngine
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(20)]
    tokens = [await payment_token(gateway, withdrawer, "100.00", key) for key in keys]
    answers = await asyncio.gather(
        *(
            withdraw(gateway, withdrawer, "100.00", key=key, token=token)
            for key, token in zip(keys, tokens, strict=True)
        )
    )
    # refused at once once wallets shows the first hold (the pre-check), or accepted and
    # then refused by wallets' own hold, under the wallet's lock
    refused = [answer for answer in answers if answer.status_code == 422]
    assert {answer.json()["code"] for answer in refused} <= {"insufficient_funds"}
    accepted = [answer for answer in answers if answer.status_code != 422]
    assert all(answer.status_code == 202 for answer in accepted), [a.text for a in accepted]
    finals = [
        await withdrawal_status(gateway, withdrawer, answer.json()["id"], "PROCESSED", "FAILED")
        for answer in accepted
    ]
    assert sorted(final["status"] for final in finals).count("PROCESSED") == 1
    assert {final["reason"] for final in finals if final["status"] == "FAILED"} <= {
        "insufficient_funds"
    }

    async def emptied() -> bool:  # the one hold posted: wallets applies it a moment later
        wallet = await wallet_of(gateway, withdrawer)
        return bool(wallet["balance"] == "0.00" and wallet["available"] == "0.00")

    await poll(emptied, what="the one hold to be posted")
    await asyncio.sleep(0.5)
    wallet = await wallet_of(gateway, withdrawer)
    assert wallet["balance"] == "0.00" and wallet["available"] == "0.00"


async def test_gateway_down_while_a_payout_is_requested_pays_out_once_when_it_is_back(
    gateway: httpx.AsyncClient, withdrawer: Person, stack: Stack
) -> None:
    async with sandbox(stack) as control:
        await control.put("/down", json={"seconds": 3})
        answer = await withdraw(gateway, withdrawer, "25.00")
        assert answer.status_code == 202, answer.text
        withdrawal = await withdrawal_status(
            gateway, withdrawer, answer.json()["id"], "PROCESSED", timeout=45
        )
    async with sandbox_api(stack) as api:
        params = {"reference_id": withdrawal["id"], "account_number": "7878780080316316"}
        found = (await api.get("/v1/payouts", params=params)).json()
    assert found["count"] == 1


async def test_audit_and_reconcile_are_clean_after_the_payments(stack: Stack) -> None:
    await asyncio.sleep(2)  # the last events of the tests before
    audit = stack.tijori("audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    reconcile = stack.tijori("reconcile")
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
