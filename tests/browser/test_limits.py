"""The Limits screen: each limit's bar of used and left, and the full-KYC upgrade with a
PAN, refused, then verified, as a person does it."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.pages import (
    PIN,
    Account,
    NewPage,
    balance_is,
    open_tab,
    pin_pad,
    screenshots,
    send_form,
    send_money,
    sign_up,
    unique_name,
)


async def test_a_person_sees_their_limits_and_upgrades_to_full_kyc(new_page: NewPage) -> None:
    watched = await new_page()
    page = watched.page
    person = Account(unique_name("Meera"))
    await sign_up(page, person)
    await balance_is(page, "₹100.00")

    await page.get_by_role("link", name="Limits").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Limits")
    limits = page.get_by_role("region", name="Your limits")
    await expect(limits.locator(".tier-badge")).to_have_text("Minimum KYC")
    balance_cap = limits.locator("[data-limit=balance_cap]")
    await expect(balance_cap).to_contain_text("₹9,900.00 left")
    await expect(balance_cap).to_contain_text("₹100.00 used of ₹10,000.00")
    await expect(balance_cap.get_by_role("meter")).to_have_attribute("aria-valuenow", "1")
    await expect(limits.locator("[data-limit=monthly_p2p]")).to_contain_text("₹10,000.00 left")
    await expect(limits.locator("[data-limit=yearly_load]")).to_contain_text("₹1,20,000.00 left")

    kyc = page.get_by_role("form", name="Upgrade to full KYC")
    await kyc.get_by_role("button", name="Verify my PAN").click()
    await expect(kyc.get_by_text("A PAN is 5 letters, 4 digits and a letter")).to_be_visible()
    await expect(kyc.get_by_text("Enter your date of birth.")).to_be_visible()
    await screenshots(page, "limits-minimum")

    # the sandbox refuses a PAN whose digits are 0000
    await kyc.get_by_label("PAN", exact=True).fill("abcpm0000f")
    await expect(kyc.get_by_label("PAN", exact=True)).to_have_value("ABCPM0000F")
    await kyc.get_by_label("Name as on your PAN").fill("Meera Sharma")
    await kyc.get_by_label("Date of birth").fill("2015-04-01")
    await kyc.get_by_role("button", name="Verify my PAN").click()
    await expect(kyc.get_by_text("Full KYC is for adults, 18 years or older.")).to_be_visible()
    await kyc.get_by_label("Date of birth").fill("1990-04-01")
    await kyc.get_by_role("button", name="Verify my PAN").click()
    state = page.get_by_role("region", name="Full KYC").locator(".kyc-state")
    await expect(state).to_have_attribute("data-kyc", "REJECTED", timeout=30_000)
    await expect(state).to_contain_text("no PAN with these details was found")
    await expect(state).to_contain_text("PAN XXXXXX000F")
    await screenshots(page, "limits-kyc-rejected")

    retry = page.get_by_role("form", name="Upgrade to full KYC")
    await retry.get_by_label("PAN", exact=True).fill("ABCPM1234F")
    await retry.get_by_label("Name as on your PAN").fill("Meera Sharma")
    await retry.get_by_label("Date of birth").fill("1990-04-01")
    await retry.get_by_role("button", name="Verify my PAN").click()
    await expect(state).to_have_attribute("data-kyc", "FULL", timeout=30_000)
    await expect(limits.locator(".tier-badge")).to_have_text("Full KYC", timeout=30_000)
    await expect(balance_cap).to_contain_text("₹1,99,900.00 left")
    await expect(limits.locator("[data-limit=yearly_load]")).to_have_count(0)
    await expect(page.get_by_role("form", name="Upgrade to full KYC")).to_have_count(0)
    await screenshots(page, "limits-full")
    watched.assert_clean()


async def test_a_person_lowers_their_daily_limits_at_once_and_raises_them_with_the_pin(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    await sign_up(page, Account(unique_name("Kavya")))
    await balance_is(page, "₹100.00")
    await page.get_by_role("link", name="Limits").click()
    limits = page.get_by_role("region", name="Your limits")
    await expect(page.get_by_test_id("kyc-deadline")).to_contain_text("Upgrade to full KYC by")
    daily_amount = limits.locator("[data-limit=daily_amount]")
    daily_count = limits.locator("[data-limit=daily_count]")
    await expect(daily_amount).to_contain_text("No limit set")
    await expect(daily_count).to_contain_text("0 payments today")

    form = page.get_by_role("form", name="Set your daily limits")
    await form.get_by_label("Most you pay in a day").fill("12.345")
    await form.get_by_label("Most payments in a day").fill("21")
    await form.get_by_role("button", name="Save my limits").click()
    await expect(form.get_by_text("Enter rupees, like 500 or 500.50.")).to_be_visible()
    await expect(form.get_by_text("At most 20 payments a day.")).to_be_visible()

    # from no limit to one: lowering, no PIN asked
    await form.get_by_label("Most you pay in a day").fill("50")
    await form.get_by_label("Most payments in a day").fill("3")
    await form.get_by_role("button", name="Save my limits").click()
    await expect(daily_amount).to_contain_text("₹50.00 left")
    await expect(daily_amount).to_contain_text("₹0.00 used of ₹50.00")
    await expect(daily_count).to_contain_text("3 payments left")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await screenshots(page, "limits-own-caps")

    # a raise asks for the PIN
    form = page.get_by_role("form", name="Set your daily limits")
    await form.get_by_label("Most you pay in a day").fill("80")
    await form.get_by_role("button", name="Save my limits").click()
    pad = pin_pad(page)
    await expect(pad).to_contain_text("To raise your daily limits to ₹80.00 a day and 3 payments.")
    await page.keyboard.type(PIN)
    await screenshots(page, "limits-raise-pin")
    await pad.get_by_role("button", name="Raise my limits").click()
    await expect(daily_amount).to_contain_text("₹80.00 left")
    await expect(pad).to_have_count(0)
    await expect(
        page.get_by_role("form", name="Set your daily limits").get_by_label("Most you pay in a day")
    ).to_have_value("80.00")
    watched.assert_clean()


async def test_a_payment_past_the_daily_limit_is_refused_at_once_saying_what_is_left(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")
    await page.get_by_role("link", name="Limits").click()
    form = page.get_by_role("form", name="Set your daily limits")
    await form.get_by_label("Most you pay in a day").fill("10")
    await form.get_by_role("button", name="Save my limits").click()
    limits = page.get_by_role("region", name="Your limits")
    await expect(limits.locator("[data-limit=daily_amount]")).to_contain_text("₹10.00 left")

    await open_tab(page, "Home")
    await send_money(page, to=bilal.email, amount="6")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    # ₹4 left of ₹10 today: the server refuses ₹5 at once, and says what is left
    await send_money(page, to=bilal.email, amount="5")
    amount_error = send_form(page).locator(".field-error").nth(1)
    await expect(amount_error).to_have_text(
        "It would pass your daily limit on the value of your payments: ₹4.00 is left today."
    )
    await screenshots(page, "home-over-the-daily-limit")
    await balance_is(page, "₹94.00")
    sender.assert_clean()
