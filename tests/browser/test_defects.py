"""The defects a browser review found (issue #17), each kept fixed by a test here."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import Page, Route, expect

from tests.browser.pages import (
    PHONE,
    Account,
    NewPage,
    balance_is,
    open_tab,
    screenshots,
    send_form,
    send_money,
    sign_up,
    unique_name,
)

SMALL_PHONE = {"width": 320, "height": 568}  # the narrowest phone the client is made for
SHORT_PHONE = {"width": 390, "height": 560}  # so that History scrolls with three rows


def problem(status: int, code: str, detail: str) -> str:
    return json.dumps(
        {"type": "about:blank", "title": "Error", "status": status, "detail": detail, "code": code}
    )


async def rect(page: Page, selector: str) -> dict[str, float]:
    box: dict[str, float] = await page.evaluate(
        "(selector) => document.querySelector(selector).getBoundingClientRect().toJSON()",
        selector,
    )
    return box


async def test_a_focused_field_is_not_hidden_under_the_tab_bar_on_a_phone(
    new_page: NewPage,
) -> None:
    watched = await new_page(viewport=PHONE)
    page = watched.page
    await sign_up(page, Account(unique_name("Tara")), pin=None)
    note = send_form(page).get_by_label("Note")
    # the Note field just under the top edge of the tab bar, as after scrolling a little
    await page.evaluate(
        """() => {
            const note = document.querySelector('#send [name="note"]');
            const bar = document.getElementById("tabs").getBoundingClientRect();
            window.scrollBy(0, note.getBoundingClientRect().top - bar.top + 10);
        }"""
    )
    await note.focus()
    field = await rect(page, '#send [name="note"]')
    bar = await rect(page, "#tabs")
    assert field["bottom"] <= bar["top"], (field, bar)
    header = await rect(page, ".topbar")
    assert field["top"] >= header["bottom"], (field, header)
    watched.assert_clean()


async def test_an_expired_session_says_so_and_keeps_what_was_typed(new_page: NewPage) -> None:
    account, payee = Account(unique_name("Ishaan")), Account(unique_name("Zoya"))
    watched = await new_page()
    page = watched.page
    await sign_up(page, account, pin=None)
    form = send_form(page)
    await form.get_by_label("To", exact=True).fill(payee.email)
    await form.get_by_label("Amount").fill("42.50")
    await form.get_by_label("Note").fill("Chai and samosas")

    # the access token runs out and its refresh token is no good any more
    await page.evaluate(
        """() => {
            sessionStorage.setItem('tijori.expires_at', String(Date.now() - 1000));
            sessionStorage.setItem('tijori.refresh_token', 'spent-long-ago');
        }"""
    )
    await page.get_by_role("button", name="Refresh balance").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
    notice = page.locator(".notice")
    await expect(notice).to_contain_text("Your session has ended. Please log in again.")
    await expect(notice).to_contain_text("What you typed is kept")
    await screenshots(page, "login-session-ended")

    # on the log-in page it is on (log_in() would load the page afresh)
    await page.get_by_label("E-mail or mobile number").fill(account.email)
    await page.get_by_label("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
    form = send_form(page)
    await expect(form.get_by_label("To", exact=True)).to_have_value(payee.email)
    await expect(form.get_by_label("Amount")).to_have_value("42.50")
    await expect(form.get_by_label("Note")).to_have_value("Chai and samosas")

    # a tab that comes back after its session expired (nothing left to renew it) says so too
    await page.evaluate(
        """() => {
            sessionStorage.setItem('tijori.expires_at', String(Date.now() - 1000));
            sessionStorage.removeItem('tijori.refresh_token');
        }"""
    )
    await page.goto("/#/history")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
    await expect(page.locator(".notice")).to_contain_text("Your session has ended")
    watched.assert_clean()


async def test_back_after_load_more_comes_back_to_the_same_rows_and_place(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(viewport=SHORT_PHONE), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    for amount in ("1", "2", "3"):
        await send_money(page, to=bilal.email, amount=amount)
        await expect(page.get_by_test_id("tx-status")).to_contain_text(f"₹{amount}.00 to")
        await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")

    async def one_per_page(route: Route) -> None:
        await route.continue_(url=route.request.url.replace("limit=20", "limit=1"))

    await page.route(re.compile(r"/api/transactions\?"), one_per_page)
    await open_tab(page, "History")
    rows = page.get_by_test_id("tx-row")
    more = page.get_by_role("button", name="Load more")
    await expect(rows).to_have_count(1)
    await more.click()
    await expect(rows).to_have_count(2)
    await more.click()
    await expect(rows).to_have_count(3)
    oldest = rows.nth(2)
    await expect(oldest).to_contain_text("₹1.00")
    await oldest.scroll_into_view_if_needed()
    await page.mouse.wheel(0, 120)
    await page.wait_for_timeout(400)  # the place is kept once the scrolling stops
    scrolled = await page.evaluate("() => window.scrollY")
    assert scrolled > 0

    await oldest.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment details")
    await page.go_back()
    await expect(page.get_by_role("heading", level=1)).to_have_text("History")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2)).to_be_focused()  # the keyboard goes on from the row opened
    back_at = await page.evaluate("() => window.scrollY")
    assert abs(back_at - scrolled) <= 2, (back_at, scrolled)

    # the tab, unlike Back, starts History afresh at its newest page
    await open_tab(page, "Notifications")
    await open_tab(page, "History")
    await expect(rows).to_have_count(1)
    sender.assert_clean()


async def test_a_list_that_failed_to_load_is_tried_again_by_itself(new_page: NewPage) -> None:
    watched = await new_page()
    page = watched.page
    await sign_up(page, Account(unique_name("Meera")), pin=None)
    await balance_is(page, "₹100.00")

    # offline: tried again as soon as the browser is back online
    await page.context.set_offline(True)
    await open_tab(page, "History")
    back_online = page.get_by_text("We will try again when you are back online.")
    await expect(back_online.first).to_be_visible()
    await screenshots(page, "history-offline")
    await page.context.set_offline(False)
    await expect(page.get_by_text("No transactions yet")).to_be_visible(timeout=10_000)

    # an outage: tried again after the wait the server asked for
    async def unavailable(route: Route) -> None:
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            headers={"Retry-After": "3"},
            body=problem(503, "service_unavailable", "the notifications service is not available"),
        )

    await page.route(re.compile(r"/api/notifications\?"), unavailable)
    await open_tab(page, "Notifications")
    await expect(page.get_by_text("We will try again in 3 seconds.")).to_be_visible()
    await page.unroute(re.compile(r"/api/notifications\?"))
    await expect(page.get_by_text("We couldn't load your notifications")).to_be_hidden(
        timeout=10_000
    )
    await expect(page.locator('[data-testid="notification"], .empty').first).to_be_visible()
    assert watched.page_errors == [] and watched.dialogs == []


async def test_refusals_keep_the_servers_words_and_rupees_read_the_indian_way(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    form = send_form(page)
    amount_error = form.locator(".field-error").nth(1)

    await send_money(page, to=bilal.email, amount="-5", pin=None)
    await expect(amount_error).to_have_text("Enter an amount above ₹0.")

    # more than the balance: the server's "₹X is available" is kept
    await send_money(page, to=bilal.email, amount="150")
    await expect(amount_error).to_have_text("Not enough balance: ₹100.00 is available.")
    await screenshots(page, "home-not-enough-balance-available")

    # the most one transfer moves, in Indian grouping as every amount is
    await send_money(page, to=bilal.email, amount="200000")
    await expect(amount_error).to_have_text("One transfer moves at most ₹1,00,000.00.")

    shown = await page.evaluate(
        """async () => {
            const { amountProblem, availableAmount, groupRupees } = await import("/js/format.js");
            const { sentence } = await import("/js/forms.js");
            return [
                amountProblem("-5"), amountProblem("\\u22125"), amountProblem("-0.5"),
                amountProblem("5.555"), amountProblem("0"), amountProblem("12.50"),
                availableAmount({ available: "1234567.50" }),
                availableAmount({ detail: "₹12,345.00 is available: too little" }),
                availableAmount({ detail: "no amount here" }),
                groupRupees("at most ₹100000.00 and ₹12345678.5 but not ₹12.345"),
                groupRupees("₹1,00,000.00 stays, ₹5, then ₹1000"),
                sentence("a daily cap is at most ₹200000.00"),
            ];
        }"""
    )
    decimals = "Enter an amount in rupees, with at most two decimals, like 250 or 99.50."
    assert shown == [
        "Enter an amount above ₹0.",
        "Enter an amount above ₹0.",
        "Enter an amount above ₹0.",
        decimals,
        "Enter an amount above ₹0.",
        None,
        "1234567.50",
        "12345.00",
        None,
        "at most ₹1,00,000.00 and ₹1,23,45,678.50 but not ₹12.345",
        "₹1,00,000.00 stays, ₹5.00, then ₹1,000.00",
        "A daily cap is at most ₹2,00,000.00.",
    ]
    sender.assert_clean()


async def test_the_time_of_a_payment_is_shown_whole_on_a_narrow_phone(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(viewport=SMALL_PHONE), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    await send_money(page, to=bilal.email, amount="99.99", note="Lunch")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")

    await open_tab(page, "History")
    row = page.get_by_test_id("tx-row").first
    await expect(row).to_be_visible()
    # every line of the row fits: nothing cut off with an ellipsis
    clipped = await page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid="tx-row"] .tx-sub'))
            .filter((sub) => sub.scrollWidth > sub.clientWidth + 1)
            .map((sub) => sub.textContent)"""
    )
    assert clipped == []
    time_box = await rect(page, '[data-testid="tx-row"] .tx-sub time')
    row_box = await rect(page, '[data-testid="tx-row"]')
    assert time_box["right"] <= row_box["right"]
    await expect(row.locator("time")).to_have_text(re.compile(r"\d{1,2}:\d{2}\s?[ap]m", re.I))
    await screenshots(page, "history-narrow-phone")
    sender.assert_clean()


async def test_the_development_mailbox_shows_only_where_the_gateway_has_one(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    await sign_up(page, Account(unique_name("Dev")), pin=None)

    async def no_mailbox(route: Route) -> None:
        await route.fulfill(
            status=404,
            content_type="application/problem+json",
            body=problem(404, "not_found", "there is nothing at this address"),
        )

    await page.route("**/api/dev/mailbox**", no_mailbox)
    await page.reload()
    await open_tab(page, "Notifications")
    settled = page.locator('[data-testid="notification"], .empty').first
    await expect(settled).to_be_visible()
    await page.wait_for_timeout(500)  # the gateway has answered the question by now
    await expect(page.get_by_text("Development mailbox")).to_have_count(0)

    # the browser stack's gateway has one, as `tijori up` does: offered there
    await page.unroute("**/api/dev/mailbox**")
    await page.reload()
    await expect(page.get_by_text("Development mailbox")).to_be_visible()
    assert watched.page_errors == [] and watched.dialogs == []
