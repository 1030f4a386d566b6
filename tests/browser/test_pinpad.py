"""The PIN pad every payment is confirmed in: digits by tap or keyboard, a wrong PIN
with the tries left, cancelling, no PIN yet, and the lock (issue 20)."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.pages import (
    PIN,
    Account,
    NewPage,
    Watched,
    balance_is,
    enter_pin,
    pin_pad,
    screenshots,
    send_form,
    send_money,
    sign_up,
    unique_name,
)


async def _asha_and_bilal(new_page: NewPage, *, pin: str | None = PIN) -> tuple[Watched, Account]:
    """Asha on home with ₹100 (and her PIN set, unless ``pin`` is None), and Bilal to
    pay, signed up in a browser of his own."""
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(
        sign_up(sender.page, asha, pin=pin), sign_up(receiver.page, bilal, pin=None)
    )
    await balance_is(sender.page, "₹100.00")
    return sender, bilal


async def test_a_payment_is_confirmed_with_the_pin_and_a_wrong_one_says_how_many_tries_are_left(
    new_page: NewPage,
) -> None:
    sender, bilal = await _asha_and_bilal(new_page)
    page = sender.page
    tokens: list[str] = []
    page.on(
        "request",
        lambda request: (
            tokens.append(request.headers.get("x-payment-token", ""))
            if request.url.endswith("/api/transactions") and request.method == "POST"
            else None
        ),
    )

    await send_money(page, to=bilal.phone, amount="12.50", note="Books", pin=None)
    pad = pin_pad(page)
    await expect(pad).to_be_visible()
    await expect(pad).to_contain_text(f"To pay ₹12.50 to {bilal.phone}")
    pay = pad.get_by_role("button", name="Pay ₹12.50")
    await expect(pay).to_be_disabled()
    await expect(pad.get_by_test_id("pin-dots").locator(".pin-dot")).to_have_count(4)
    await screenshots(page, "pin-pad")

    # by tapping the digits (a person's first tap comes later than the pad's guard against
    # a hurried second tap on Send): a wrong PIN, and the pad says how many tries are left
    await page.wait_for_timeout(600)
    for digit in "739205":
        await pad.get_by_role("button", name=digit, exact=True).click()
    await expect(pad.get_by_test_id("pin-dots").locator(".pin-dot.filled")).to_have_count(6)
    await screenshots(page, "pin-pad-filled")
    await pay.click()
    await expect(pad.get_by_test_id("pin-error")).to_have_text("Wrong PIN. 2 tries left.")
    await expect(pad.get_by_test_id("pin-dots").locator(".pin-dot.filled")).to_have_count(0)
    await screenshots(page, "pin-pad-wrong")
    assert tokens == []  # nothing was sent to transactions

    # by keyboard, with a slip put right: the payment goes through
    await page.keyboard.type("4829")
    await page.keyboard.press("Backspace")
    await page.keyboard.type("916")
    await page.keyboard.press("Enter")
    await expect(pad).to_be_hidden()
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await balance_is(page, "₹87.50")
    assert len(tokens) == 1 and tokens[0].count(".") == 2, tokens
    sender.assert_clean()


async def test_cancelling_the_pin_pad_sends_nothing_and_the_form_is_ready_again(
    new_page: NewPage,
) -> None:
    sender, bilal = await _asha_and_bilal(new_page)
    page = sender.page
    await send_money(page, to=bilal.email, amount="5", pin=None)
    await pin_pad(page).get_by_role("button", name="Cancel").click()
    await expect(pin_pad(page)).to_have_count(0)
    button = send_form(page).get_by_role("button", name="Send money")
    await expect(button).to_be_enabled()
    await expect(button).to_be_focused()
    await expect(page.get_by_test_id("tx-status")).to_be_empty()
    # Escape closes it too; then the payment is made after all
    await button.click()
    await page.keyboard.press("Escape")
    await expect(pin_pad(page)).to_have_count(0)
    await button.click()
    await enter_pin(page)
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await balance_is(page, "₹95.00")
    sender.assert_clean()


async def test_without_a_pin_the_form_says_so_and_links_to_the_security_screen(
    new_page: NewPage,
) -> None:
    sender, bilal = await _asha_and_bilal(new_page, pin=None)
    page = sender.page
    await send_money(page, to=bilal.phone, amount="5", pin=None)
    problem = send_form(page).get_by_role("alert")
    await expect(problem).to_contain_text("Set a transaction PIN first")
    await expect(pin_pad(page)).to_have_count(0)
    await screenshots(page, "home-no-pin")
    await problem.get_by_role("link", name="Set your PIN").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    form = page.get_by_role("form", name="Transaction PIN")
    await form.get_by_label("Choose a PIN").fill(PIN)
    await form.get_by_label("Type the PIN again").fill(PIN)
    await form.get_by_role("button", name="Set PIN").click()
    await expect(form.get_by_role("status")).to_be_visible()

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    await send_money(page, to=bilal.phone, amount="5")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await balance_is(page, "₹95.00")
    sender.assert_clean()


async def test_three_wrong_pins_lock_payments_and_the_form_says_for_how_long(
    new_page: NewPage,
) -> None:
    sender, bilal = await _asha_and_bilal(new_page)
    page = sender.page
    await send_money(page, to=bilal.phone, amount="5", pin=None)
    pad = pin_pad(page)
    await expect(pad).to_be_visible()
    for left in ("2 tries", "1 try"):
        await page.keyboard.type("102938")
        await page.keyboard.press("Enter")
        await expect(pad.get_by_test_id("pin-error")).to_have_text(f"Wrong PIN. {left} left.")
    await page.keyboard.type("102938")
    await page.keyboard.press("Enter")
    await expect(pad).to_have_count(0)
    problem = send_form(page).get_by_role("alert")
    await expect(problem).to_contain_text("payments are now locked")

    await send_form(page).get_by_role("button", name="Send money").click()
    await enter_pin(page)  # the right PIN, too late
    await expect(problem).to_contain_text("Too many wrong PINs: payments are locked for 24 hours")
    await expect(
        problem.get_by_role("link", name="Reset your PIN with your password")
    ).to_be_visible()
    await screenshots(page, "home-pin-locked")
    await balance_is(page, "₹100.00")
    sender.assert_clean()
