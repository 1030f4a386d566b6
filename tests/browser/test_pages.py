"""Every screen, its states (empty, offline, outage, expired session) and a clean console."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import Route, expect

from tests.browser.pages import (
    MINUS,
    Account,
    NewPage,
    balance_is,
    eventually_visible,
    open_tab,
    screenshots,
    send_money,
    sign_up,
    unique_name,
)
from tests.browser.test_validation import create_account
from tests.integration.stack import Stack

OFFLINE = "You are offline. We will try again"
TROUBLE = "Tijori is having trouble, try again shortly"


async def test_every_screen_renders_without_console_errors(new_page: NewPage) -> None:
    watched = await new_page()
    page = watched.page
    favicon = await page.request.get("/favicon.svg")
    assert favicon.ok and favicon.headers["content-type"].startswith("image/svg+xml")

    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/#/login$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
    await expect(page.get_by_role("heading", level=1)).to_be_focused()
    await expect(page).to_have_title("Log in · Tijori")
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    await screenshots(page, "login")

    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    await screenshots(page, "signup")

    person = Account(unique_name("Priya"))
    await sign_up(page, person)
    await balance_is(page, "₹100.00")
    await expect(page.get_by_text("No transactions yet")).to_be_visible()
    await screenshots(page, "home")

    await open_tab(page, "History")
    await expect(page.get_by_text("No transactions yet")).to_be_visible()
    await page.get_by_role("radio", name="Pending").check()
    await expect(page.get_by_text("No pending transactions")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/#/history\?status=PENDING$"))
    await screenshots(page, "history-empty")

    await open_tab(page, "Notifications")
    welcome = page.get_by_test_id("notification").filter(has_text="Welcome")
    await eventually_visible(page, welcome.filter(has_text="Delivered"))
    await page.get_by_text("Development mailbox").click()
    received = page.get_by_role("list", name="Received e-mails").get_by_role("listitem")
    await expect(received.filter(has_text="Welcome to Tijori")).to_contain_text(person.name)
    await screenshots(page, "notifications-welcome")

    await page.goto("/#/tx/no-such-transaction")
    await expect(page.get_by_text("We couldn't find this transaction")).to_be_visible()
    await screenshots(page, "transaction-not-found")

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
    await expect(page.get_by_text("You have logged out.")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.length") == 0

    watched.assert_clean()
    # the only error answers are the ones the screens expect and explain
    expected = ("/api/wallets/me", "/api/transactions/no-such-transaction")
    unexpected = [
        answer for answer in watched.api_answers if not any(url in answer for url in expected)
    ]
    assert unexpected == [], unexpected


def problem(status: int, code: str, detail: str) -> str:
    """A problem+json body as the services write it."""
    return json.dumps(
        {
            "type": f"https://tijori.dev/problems/{code.replace('_', '-')}",
            "title": "Problem",
            "status": status,
            "detail": detail,
            "code": code,
        }
    )


async def test_money_is_shown_in_rupees_with_indian_grouping(new_page: NewPage) -> None:
    watched = await new_page()
    page = watched.page
    await page.goto("/#/login")
    shown = await page.evaluate(
        """async () => {
            const { rupees, signedRupees, reasonText } = await import("/js/format.js");
            return [
                rupees("100.00"), rupees("100000"), rupees("12345678.5"), rupees("0.05"),
                rupees("-25.50"), signedRupees("25.50", "SENT"), signedRupees("25.50", "RECEIVED"),
                reasonText("insufficient_funds"), reasonText("wallet_frozen"),
                reasonText("wallet_not_found"), reasonText("something_new"),
            ];
        }"""
    )
    assert shown == [
        "₹100.00",
        "₹1,00,000.00",
        "₹1,23,45,678.50",
        "₹0.05",
        f"{MINUS}₹25.50",
        f"{MINUS}₹25.50",
        "+₹25.50",
        "Not enough balance",
        "The wallet is frozen",
        "The receiver's wallet is not ready",
        "something_new",
    ]
    watched.assert_clean()


async def test_offline_and_outage_banners_come_and_go(new_page: NewPage) -> None:
    watched = await new_page()
    page = watched.page
    await sign_up(page, Account(unique_name("Ravi")))
    await balance_is(page, "₹100.00")

    # right after sign-up the wallet may not be open yet: home says so and retries every second
    async def not_open_yet(route: Route) -> None:
        await route.fulfill(
            status=404,
            content_type="application/problem+json",
            body=problem(404, "wallet_not_found", "no wallet yet"),
        )

    await page.route("**/api/wallets/me", not_open_yet)
    await page.reload()
    await expect(page.get_by_text("Opening your wallet…")).to_be_visible()
    await screenshots(page, "home-opening-wallet")
    await page.unroute("**/api/wallets/me")
    await balance_is(page, "₹100.00")
    offline = page.get_by_text(OFFLINE)
    trouble = page.get_by_text(TROUBLE)

    await page.context.set_offline(True)
    await expect(offline).to_be_visible()
    await screenshots(page, "home-offline")
    await page.context.set_offline(False)
    await expect(offline).to_be_hidden()

    async def unavailable(route: Route) -> None:
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            headers={"Retry-After": "5"},
            body=problem(503, "service_unavailable", "the wallets service is not available"),
        )

    await page.route("**/api/wallets/me", unavailable)
    await page.get_by_role("button", name="Refresh balance").click()
    await expect(trouble).to_be_visible()
    await expect(page.get_by_test_id("balance")).to_have_text("₹100.00")  # the last known
    await screenshots(page, "home-service-unavailable")
    await page.unroute("**/api/wallets/me")
    await expect(trouble).to_be_hidden(timeout=10_000)  # the retry succeeds
    assert watched.page_errors == [] and watched.dialogs == []


async def test_an_ended_session_goes_to_log_in_and_comes_back(
    new_page: NewPage, web_stack: Stack
) -> None:
    account = Account(unique_name("Kavya"))
    await create_account(web_stack, account)
    watched = await new_page()
    page = watched.page
    await page.goto("/#/login")
    await page.evaluate("() => sessionStorage.setItem('tijori.token', 'not-a-token')")
    await page.goto("/#/history")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
    await expect(page.get_by_text("Your session has ended. Please log in again.")).to_be_visible()

    await page.get_by_label("E-mail or mobile number").fill(account.email)
    await page.get_by_label("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("History")
    await expect(page).to_have_url(re.compile(r"/#/history$"))
    assert watched.page_errors == [] and watched.console_errors == []


async def test_history_and_notifications_load_more_pages(new_page: NewPage) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    for amount in ("1", "2"):
        await send_money(page, to=bilal.email, amount=amount)
        await expect(page.get_by_test_id("tx-status")).to_contain_text(f"₹{amount}.00 to")
        await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")

    # four e-mails (welcome, the verification code, one per payment) once consumed
    await open_tab(page, "Notifications")
    mails = page.get_by_test_id("notification")
    await eventually_visible(page, mails.nth(3))

    async def one_per_page(route: Route) -> None:
        await route.continue_(url=route.request.url.replace("limit=20", "limit=1"))

    await page.route(re.compile(r"/api/(transactions|notifications)\?"), one_per_page)
    await page.reload()
    more = page.get_by_role("button", name="Load more")
    await expect(mails).to_have_count(1)
    await more.click()
    await expect(mails).to_have_count(2)
    await more.click()
    await expect(mails).to_have_count(3)
    await more.click()
    await expect(mails).to_have_count(4)
    await expect(more).to_be_hidden()
    # the oldest two came with the sign-up, in whichever order they were consumed
    oldest = mails.nth(2).or_(mails.nth(3))
    await expect(oldest.filter(has_text="Welcome")).to_have_count(1)
    # the code is e-mailed, never shown in the app
    await expect(oldest.filter(has_text="verification code")).to_contain_text("••••••")

    await open_tab(page, "History")
    rows = page.get_by_test_id("tx-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("₹2.00")  # newest first
    await more.focus()
    await more.press("Enter")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1)).to_contain_text("₹1.00")
    await expect(more).to_be_hidden()
    await expect(rows.nth(1)).to_be_focused()  # the keyboard goes on from the new row
    sender.assert_clean()
