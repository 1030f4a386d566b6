"""E-mail verification in the web client (issue 17): after sign-up the code step, with
its errors and the one-minute wait for a new code; a banner on home until verified; no
payment before it; the welcome balance after it. The code is read in the development
mailbox the screen links, as a person trying Tijori on `make run` would."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.pages import (
    Account,
    NewPage,
    balance_is,
    mailed_code,
    screenshots,
    send_form,
    set_pin,
    sign_up,
    unique_name,
)


async def test_a_new_user_verifies_their_e_mail_before_paying_and_then_gets_the_balance(
    new_page: NewPage,
) -> None:
    friend = await new_page()
    friend_account = Account(unique_name("Kavya"))
    await sign_up(friend.page, friend_account)

    watched = await new_page()
    page = watched.page
    account = Account(unique_name("Arjun"))
    await page.goto("/#/signup")
    await page.get_by_label("Full name").fill(account.name)
    await page.get_by_label("E-mail").fill(account.email)
    await page.get_by_label("Mobile number").fill(account.phone)
    await page.get_by_label("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Create account").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Verify your e-mail")
    await expect(page.get_by_text(account.email).first).to_be_visible()
    form = page.get_by_role("form", name="Verify your e-mail")
    resend = form.get_by_role("button", name=re.compile(r"^Send a new code"))
    await expect(resend).to_be_disabled()
    await expect(resend).to_have_text(re.compile(r"Send a new code in 0:[0-5][0-9]"))
    # the development mailbox is open below, with the code's e-mail in it
    mailbox = page.locator("details.mailbox")
    await expect(mailbox.get_by_text("Your Tijori verification code").first).to_be_visible()
    code = await mailed_code(page, account.email)

    await form.get_by_label("Verification code").fill("12")
    await form.get_by_role("button", name="Verify e-mail").click()
    await expect(
        form.get_by_text("Enter the 6 digits of the code we e-mailed you.")
    ).to_be_visible()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await form.get_by_label("Verification code").fill(wrong)
    await form.get_by_role("button", name="Verify e-mail").click()
    await expect(form.get_by_text("That code is not right. 4 tries left.")).to_be_visible()
    await screenshots(page, "verify-email")

    # looking around first: home says what is missing, and paying is refused
    await page.get_by_role("link", name="Do this later").click()
    banner = page.get_by_role("region", name="Verify your e-mail")
    await expect(banner).to_be_visible()
    await balance_is(page, "₹0.00")
    await set_pin(page)
    send = send_form(page)
    await send.get_by_label("To", exact=True).fill(friend_account.phone)
    await send.get_by_label("Amount").fill("10")
    await send.get_by_role("button", name="Send money").click()
    pad = page.get_by_role("dialog", name="Enter your PIN")
    await expect(pad).to_be_visible()
    await page.keyboard.type("482916")
    await pad.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await expect(send.get_by_text("Verify your e-mail address first")).to_be_visible()
    await screenshots(page, "home-unverified")

    await banner.get_by_role("link", name="Enter code").click()
    form = page.get_by_role("form", name="Verify your e-mail")
    await form.get_by_label("Verification code").fill(code)
    await form.get_by_role("button", name="Verify e-mail").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
    await expect(page.get_by_text("Your e-mail is verified.")).to_be_visible()
    await expect(page.get_by_role("region", name="Verify your e-mail")).to_have_count(0)
    await balance_is(page, "₹100.00")
    # once the balance is there, the notice no longer says it is on its way (a balance
    # that came while the page watched is also announced, in the #live region)
    notice = page.get_by_test_id("home-notice")
    await expect(notice).to_have_text("Your e-mail is verified. Your welcome balance has arrived.")
    await screenshots(page, "home-verified")
    watched.assert_clean()
    friend.assert_clean()
