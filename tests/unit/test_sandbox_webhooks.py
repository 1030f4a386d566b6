"""The sandbox's webhooks are signed and delivered at least once; its switches make them
late, repeated, reordered or lost, the API down, and payouts end as a test says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import poll
from tests.unit.sandbox import (
    AUTH,
    WEBHOOK_SECRET,
    Merchant,
    checkout,
    create_order,
    deliveries,
    expected_hmac,
    payout_body,
    running_sandbox,
    settings_for,
    settled,
)

PAID = ["payment.authorized", "payment.captured", "order.paid"]


async def test_a_paid_order_sends_three_signed_events_each_with_its_own_id(
    tmp_path: Path,
) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        order_id = await create_order(sandbox, 5_000)
        await checkout(sandbox, order_id, "pay")
        await settled(sandbox)
    assert merchant.events() == PAID
    for received in merchant.received:
        assert received.headers["content-type"] == "application/json"
        assert received.headers["x-razorpay-signature"] == expected_hmac(
            WEBHOOK_SECRET, received.body
        )
        event = received.event
        assert event["entity"] == "event" and event["account_id"].startswith("acc_")
        assert isinstance(event["created_at"], int)
    assert len({received.headers["x-razorpay-event-id"] for received in merchant.received}) == 3
    authorized, captured, paid = (received.event for received in merchant.received)
    assert authorized["contains"] == ["payment"]
    assert authorized["payload"]["payment"]["entity"]["status"] == "authorized"
    assert captured["payload"]["payment"]["entity"]["status"] == "captured"
    assert paid["contains"] == ["payment", "order"]
    assert paid["payload"]["order"]["entity"]["id"] == order_id
    assert paid["payload"]["order"]["entity"]["status"] == "paid"


async def test_a_webhook_not_answered_2xx_is_retried_with_the_same_event_id(
    tmp_path: Path,
) -> None:
    merchant = Merchant(answers=[500, 503])
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        order_id = await create_order(sandbox)
        await checkout(sandbox, order_id, "fail")
        body = await settled(sandbox)
    assert merchant.events() == ["payment.failed"] * 3
    assert len({received.headers["x-razorpay-event-id"] for received in merchant.received}) == 1
    assert len({received.body for received in merchant.received}) == 1
    [delivery] = body["items"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


async def test_a_webhook_never_answered_2xx_is_given_up_after_its_time(tmp_path: Path) -> None:
    merchant = Merchant(answers=[500] * 1000)
    settings = settings_for(tmp_path, sandbox_webhook_give_up_seconds=0.3)
    async with running_sandbox(settings, merchant) as sandbox:
        await checkout(sandbox, await create_order(sandbox), "fail")
        body = await settled(sandbox)
    assert body["counts"] == {"failed": 1} and body["items"][0]["attempts"] >= 3


async def test_the_duplicate_switch_delivers_each_event_again_under_its_id(
    tmp_path: Path,
) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        await sandbox.put("/_sandbox/webhooks/behaviour", json={"duplicate": 2})
        await checkout(sandbox, await create_order(sandbox), "pay")
        await settled(sandbox)
    ids = [received.headers["x-razorpay-event-id"] for received in merchant.received]
    assert len(ids) == 6 and len(set(ids)) == 3 and all(ids.count(i) == 2 for i in ids)


async def test_the_drop_switch_loses_the_next_events_and_only_those(tmp_path: Path) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        state = await sandbox.put("/_sandbox/webhooks/behaviour", json={"drop": 3})
        assert state.json()["webhooks"]["drop"] == 3
        await checkout(sandbox, await create_order(sandbox), "pay")
        await checkout(sandbox, await create_order(sandbox), "fail")
        body = await settled(sandbox)
        state = await sandbox.get("/_sandbox/state")
    assert merchant.events() == ["payment.failed"]
    assert body["counts"] == {"dropped": 3, "delivered": 1}
    assert state.json()["webhooks"]["drop"] == 0


async def test_the_reorder_switch_delivers_a_held_batch_newest_first(tmp_path: Path) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        await sandbox.put("/_sandbox/webhooks/behaviour", json={"reorder": 3})
        await checkout(sandbox, await create_order(sandbox), "pay")
        await settled(sandbox)
        await sandbox.put("/_sandbox/webhooks/behaviour", json={"reorder": 5})
        await checkout(sandbox, await create_order(sandbox), "fail")
        await asyncio.sleep(0.1)
        held = await deliveries(sandbox)
        assert held["counts"]["held"] == 1 and not held["settled"]
        assert (await sandbox.post("/_sandbox/webhooks/release")).json() == {"released": 1}
        await settled(sandbox)
    assert merchant.events() == [*reversed(PAID), "payment.failed"]


async def test_the_delay_switch_holds_each_event_back_that_long(tmp_path: Path) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        await sandbox.put("/_sandbox/webhooks/behaviour", json={"delay_seconds": 0.5})
        await checkout(sandbox, await create_order(sandbox), "fail")
        await asyncio.sleep(0.25)
        assert merchant.received == []
        await settled(sandbox)
        await sandbox.delete("/_sandbox/webhooks/behaviour")
        assert (await sandbox.get("/_sandbox/state")).json()["webhooks"]["delay_seconds"] == 0
    assert merchant.events() == ["payment.failed"]


async def test_a_sandbox_switched_down_answers_503_and_sends_nothing_until_up(
    tmp_path: Path,
) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        order_id = await create_order(sandbox)
        await checkout(sandbox, order_id, "pay")
        state = (await sandbox.put("/_sandbox/down", json={})).json()
        assert state["down"] is True and state["down_seconds_left"] is None
        answer = await sandbox.get(f"/v1/orders/{order_id}", auth=AUTH)
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "SERVER_ERROR"
        await asyncio.sleep(0.2)
        assert len(merchant.received) < 3  # it may have sent some before it went down
        await sandbox.delete("/_sandbox/down")
        assert (await sandbox.get(f"/v1/orders/{order_id}", auth=AUTH)).status_code == 200
        await settled(sandbox)
        timed = (await sandbox.put("/_sandbox/down", json={"seconds": 0.2})).json()
        assert 0 < timed["down_seconds_left"] <= 0.2
        await poll(
            lambda: _answers(sandbox, f"/v1/orders/{order_id}", 200), timeout=3, interval=0.05
        )
    assert merchant.events() == PAID


async def _answers(sandbox: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await sandbox.get(path, auth=AUTH)).status_code == status


async def _payout(sandbox: httpx.AsyncClient, key: str) -> str:
    answer = await sandbox.post(
        "/v1/payouts",
        auth=AUTH,
        json=payout_body(reference_id=key),
        headers={"X-Payout-Idempotency": key},
    )
    assert answer.status_code == 200, answer.text
    payout_id: str = answer.json()["id"]
    return payout_id


async def test_a_payout_is_processed_after_its_delay_with_its_webhooks(tmp_path: Path) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        payout_id = await _payout(sandbox, "payout-ok")
        await asyncio.sleep(0.2)
        await settled(sandbox)
        payout = (await sandbox.get(f"/v1/payouts/{payout_id}", auth=AUTH)).json()
    assert payout["status"] == "processed" and len(payout["utr"]) == 12
    assert payout["failure_reason"] is None and payout["status_details"]["reason"]
    assert merchant.events() == ["payout.initiated", "payout.processed"]
    assert all(received.event["contains"] == ["payout"] for received in merchant.received)


async def test_queued_outcomes_decide_how_the_next_payouts_end(tmp_path: Path) -> None:
    merchant = Merchant()
    outcomes = ["reversed", "failed", "rejected", "cancelled"]
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        state = await sandbox.post("/_sandbox/payouts/outcomes", json={"outcomes": outcomes})
        assert state.json()["payout_outcomes"] == outcomes
        ids = [await _payout(sandbox, f"payout-{outcome}") for outcome in [*outcomes, "next"]]
        await asyncio.sleep(0.3)
        await settled(sandbox)
        payouts = [(await sandbox.get(f"/v1/payouts/{i}", auth=AUTH)).json() for i in ids]
    assert [payout["status"] for payout in payouts] == [*outcomes, "processed"]
    assert all(payout["failure_reason"] for payout in payouts[:4])
    by_payout: dict[str, list[str]] = {}
    for received in merchant.received:
        entity = received.event["payload"]["payout"]["entity"]
        by_payout.setdefault(entity["id"], []).append(received.event["event"])
    assert by_payout[ids[0]] == ["payout.initiated", "payout.processed", "payout.reversed"]
    assert by_payout[ids[1]] == ["payout.initiated", "payout.failed"]
    assert by_payout[ids[2]] == ["payout.pending", "payout.rejected"]
    assert by_payout[ids[3]] == ["payout.queued", "payout.updated"]


async def test_a_refund_sends_refund_events_with_the_payment(tmp_path: Path) -> None:
    merchant = Merchant()
    async with running_sandbox(settings_for(tmp_path), merchant) as sandbox:
        location = (await checkout(sandbox, await create_order(sandbox), "pay")).headers["location"]
        payment_id = parse_qs(urlsplit(location).query)["razorpay_payment_id"][0]
        await sandbox.post(f"/v1/payments/{payment_id}/refund", auth=AUTH, json={})
        await settled(sandbox)
    refund_events = [r.event for r in merchant.received if r.event["event"].startswith("refund")]
    assert [event["event"] for event in refund_events] == ["refund.created", "refund.processed"]
    assert all(event["contains"] == ["refund", "payment"] for event in refund_events)
    assert refund_events[1]["payload"]["payment"]["entity"]["status"] == "refunded"
