"""Whatever people type is shown as text, never run as HTML."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from tests.browser.pages import (
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

HOSTILE_NAME = "Mallory <img src=x onerror=alert(1)>"
HOSTILE_NOTE = "<script>alert(1)</script>"


async def assert_no_injected_markup(page: Page) -> None:
    """No element the data could have made: only the page's own module script, no image."""
    assert await page.locator("img").count() == 0
    assert await page.locator("script").count() == 1
    assert await page.locator("script[src='/app.js']").count() == 1


async def test_names_and_notes_that_look_like_html_are_shown_as_text(new_page: NewPage) -> None:
    mallory, bob = Account(unique_name(HOSTILE_NAME)), Account(unique_name("Bob"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, mallory), sign_up(receiver.page, bob))
    page = sender.page
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {mallory.name}")
    await balance_is(page, "₹100.00")

    await send_money(page, to=bob.email, amount="1", note=HOSTILE_NOTE)
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    row = page.get_by_test_id("tx-row").filter(has_text=HOSTILE_NOTE)
    await expect(row).to_be_visible()
    await assert_no_injected_markup(page)

    await receiver.page.get_by_role("button", name="Refresh balance").click()
    await balance_is(receiver.page, "₹101.00")
    await open_tab(receiver.page, "History")
    received = receiver.page.get_by_test_id("tx-row").filter(has_text=mallory.name)
    await expect(received).to_contain_text(HOSTILE_NOTE)
    await screenshots(receiver.page, "history-hostile-text")
    await received.click()
    await expect(receiver.page.get_by_test_id("receipt")).to_contain_text(
        f"Received from {mallory.name}"
    )
    await expect(receiver.page.get_by_text(HOSTILE_NOTE)).to_be_visible()
    await assert_no_injected_markup(receiver.page)

    await open_tab(receiver.page, "Notifications")
    mails = receiver.page.get_by_test_id("notification").filter(has_text=mallory.name)
    await eventually_visible(receiver.page, mails)
    await assert_no_injected_markup(receiver.page)

    for watched in (sender, receiver):
        watched.assert_clean()
        assert watched.dialogs == []
