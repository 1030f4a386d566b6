"""Sending money in the web client, as two people in two browsers."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Locator, Route, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.browser.pages import (
    DB_PREFIX,
    MINUS,
    PIN,
    WATCH_STATUS,
    Account,
    NewPage,
    balance_is,
    eventually_visible,
    open_tab,
    pin_pad,
    screenshots,
    send_form,
    send_money,
    sign_up,
    status_texts,
    unique_name,
)
from tests.integration.stack import database_url

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def freeze_wallet(phone: str) -> None:
    """Freeze a wallet behind the web client's back, in the wallets database."""
    engine = create_async_engine(database_url("wallets", DB_PREFIX))
    try:
        async with engine.begin() as connection:
            frozen = await connection.execute(
                text("UPDATE wallets SET status = 'FROZEN' WHERE phone = :phone"),
                {"phone": f"+91{phone}"},
            )
            assert frozen.rowcount == 1
    finally:
        await engine.dispose()


async def test_two_people_send_money_and_both_see_balances_history_and_notifications(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    await asyncio.gather(balance_is(sender.page, "₹100.00"), balance_is(receiver.page, "₹100.00"))
    await expect(sender.page.get_by_role("heading", level=1)).to_have_text(f"Hello, {asha.name}")

    page = sender.page
    await page.evaluate(WATCH_STATUS)
    await send_money(page, to=bilal.phone, amount="25.50", note="Chai and samosa")
    status = page.get_by_test_id("tx-status")
    await expect(status).to_contain_text("Sent ✓")
    await expect(status).to_contain_text(f"₹25.50 to {bilal.name}")
    assert any("Sending…" in shown for shown in await status_texts(page))
    await balance_is(page, "₹74.50")
    await expect(send_form(page).get_by_label("Amount")).to_have_value("")
    await screenshots(page, "home-sent")

    await receiver.page.get_by_role("button", name="Refresh balance").click()
    await balance_is(receiver.page, "₹125.50")
    await expect(receiver.page.get_by_test_id("tx-row").filter(has_text=asha.name)).to_contain_text(
        "+₹25.50"
    )

    await open_tab(page, "History")
    sent = page.get_by_test_id("tx-row").filter(has_text=bilal.name)
    await expect(sent).to_contain_text(f"{MINUS}₹25.50")
    await expect(sent).to_contain_text("Success")
    await expect(sent).to_contain_text("Chai and samosa")
    await screenshots(page, "history")
    await sent.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment details")
    await expect(page.get_by_test_id("receipt")).to_contain_text(f"Sent to {bilal.name}")
    await expect(page.get_by_test_id("receipt")).to_contain_text(f"{MINUS}₹25.50")
    await screenshots(page, "transaction")

    await open_tab(receiver.page, "History")
    received = receiver.page.get_by_test_id("tx-row").filter(has_text=asha.name)
    await expect(received).to_contain_text("+₹25.50")
    await expect(received).to_contain_text("Received")

    await open_tab(page, "Notifications")
    mails = page.get_by_test_id("notification")
    await eventually_visible(page, mails.filter(has_text="₹25.50"))
    await expect(mails.filter(has_text="Welcome")).to_be_visible()
    await open_tab(receiver.page, "Notifications")
    mails = receiver.page.get_by_test_id("notification")
    await eventually_visible(receiver.page, mails.filter(has_text="₹25.50"))
    await expect(mails.filter(has_text="₹25.50")).to_contain_text(asha.name)
    await screenshots(receiver.page, "notifications")

    sender.assert_clean()
    receiver.assert_clean()


async def test_a_transfer_that_cannot_go_through_says_why(new_page: NewPage) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")

    # more than the balance: refused before it starts, next to the amount
    await send_money(page, to=bilal.email, amount="150", note="Rent")
    amount = send_form(page).get_by_label("Amount")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(send_form(page).get_by_text("Not enough balance")).to_be_visible()
    await expect(amount).to_be_focused()
    await screenshots(page, "home-not-enough-balance")

    # refused by the wallets service once started: the transaction FAILS with its reason
    # (the sender's wallet frozen behind the page's back; a frozen receiver is still paid)
    await freeze_wallet(asha.phone)
    await send_money(page, to=bilal.email, amount="40", note="Frozen")
    status = page.get_by_test_id("tx-status")
    await expect(status).to_contain_text("Failed: Your wallet is frozen")
    await balance_is(page, "₹100.00")
    await screenshots(page, "home-failed")

    await open_tab(page, "History")
    await page.get_by_role("radio", name="Failed").check()
    failed = page.get_by_test_id("tx-row").filter(has_text=bilal.name)
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text("Failed")
    await page.get_by_role("radio", name="Success").check()
    await expect(page.get_by_text("No successful transactions")).to_be_visible()
    await page.get_by_role("radio", name="Failed").check()
    await failed.click()
    await expect(page.get_by_test_id("receipt")).to_contain_text("Failed: Your wallet is frozen")
    await screenshots(page, "transaction-failed")
    sender.assert_clean()


async def test_a_payment_retried_after_a_lost_answer_moves_money_once(new_page: NewPage) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    keys: list[str] = []

    async def lose_first_answer(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()  # the server takes the payment, the answer never arrives
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route("**/api/transactions", lose_first_answer)
    await send_money(page, to=bilal.phone, amount="10", note="Lunch")
    problem = send_form(page).get_by_role("alert")
    await expect(problem).to_contain_text("You are offline")
    await expect(page.get_by_text("You are offline. We will try again")).to_be_visible()

    await send_form(page).get_by_role("button", name="Send money").click()
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await expect(page.get_by_text("You are offline. We will try again")).to_be_hidden()
    await balance_is(page, "₹90.00")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    assert UUID.match(keys[0]), keys[0]

    await send_money(page, to=bilal.phone, amount="5")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("₹5.00 to")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await balance_is(page, "₹85.00")
    assert len(keys) == 3 and keys[2] != keys[0], keys

    await open_tab(page, "History")
    await expect(page.get_by_test_id("tx-row")).to_have_count(2)
    assert sender.page_errors == [] and sender.dialogs == []


@pytest.mark.parametrize("gap", [0, 0.15, 0.4])
async def test_a_second_press_while_a_payment_is_on_its_way_pays_nothing_more(
    new_page: NewPage, gap: float
) -> None:
    """A hurried user presses "Send money" again, and "Pay" in the PIN pad again, while
    the payment is on its way: the form stays locked until the payment is settled, so one
    payment token is asked for and one transaction is made (issues 17 and 20)."""
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    keys: list[str] = []
    confirmations: list[str] = []

    async def slow_answers(route: Route) -> None:
        if route.request.method == "POST":
            keys.append(route.request.headers["idempotency-key"])
            await route.continue_()
        else:  # a busy server: the status takes its time to read "Sent"
            await asyncio.sleep(1.5)
            await route.continue_()

    async def slow_confirmation(route: Route) -> None:
        confirmations.append(route.request.post_data_json["idempotency_key"])
        await asyncio.sleep(1.0)  # the PIN takes a moment to check: the pad stays open
        await route.continue_()

    await page.route("**/api/transactions**", slow_answers)
    await page.route("**/api/auth/payment-token", slow_confirmation)
    form = send_form(page)
    await form.get_by_label("To", exact=True).fill(bilal.phone)
    await form.get_by_label("Amount").fill("3")

    async def press_twice_and_enter(target: Locator) -> None:
        await target.scroll_into_view_if_needed()
        box = await target.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.click(x, y)  # as a finger does: a disabled button just takes the tap
        await asyncio.sleep(gap)
        await page.mouse.click(x, y)
        await page.keyboard.press("Enter")  # and the keyboard's way to submit

    button = form.get_by_role("button", name=re.compile("Send money|Sending"))
    await press_twice_and_enter(button)  # the pad opens once; the second tap is on its backdrop
    await expect(pin_pad(page)).to_have_count(1)
    # a tap that lands on the pad as it opens types no digit
    await expect(pin_pad(page).get_by_test_id("pin-dots").locator(".filled")).to_have_count(0)
    await page.keyboard.type(PIN)
    await press_twice_and_enter(pin_pad(page).get_by_role("button", name=re.compile("^Pay ")))
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sending…")
    await screenshots(page, f"home-second-press-{gap}")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓", timeout=30_000)
    await expect(button).to_be_enabled()
    await balance_is(page, "₹97.00")
    await screenshots(page, f"home-second-press-{gap}-sent")

    token = await page.evaluate("() => sessionStorage.getItem('tijori.token')")
    listed = await page.request.get(
        "/api/transactions", headers={"Authorization": f"Bearer {token}"}
    )
    sent = [t for t in (await listed.json())["items"] if t["direction"] == "SENT"]
    assert [t["amount"] for t in sent] == ["3.00"], sent
    assert len(set(keys)) == 1, keys
    assert confirmations == keys[:1], confirmations  # one PIN check, for that same key

    # settled: the next press is a new payment, with a new key
    await send_money(page, to=bilal.phone, amount="3")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓", timeout=30_000)
    await balance_is(page, "₹94.00")
    assert len(set(keys)) == 2, keys
    sender.assert_clean()
