"""Adding money through the gateway sandbox's checkout and withdrawing it, as a person does."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.pages import (
    Account,
    NewPage,
    balance_is,
    screenshots,
    sign_up,
    unique_name,
    upgrade_kyc,
)


async def test_a_person_adds_money_at_the_checkout_and_withdraws_it_with_the_pin(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    person = Account(unique_name("Kavya"))
    await sign_up(page, person, pin=None)  # set on the Security screen below
    await balance_is(page, "₹100.00")

    await page.get_by_role("link", name="Add money").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add money")
    form = page.get_by_role("form", name="Add money")
    await form.get_by_role("button", name="Continue to payment").click()
    await expect(form.get_by_text("Enter an amount.")).to_be_visible()
    await form.get_by_role("button", name="₹500").click()
    await expect(form.get_by_label("Amount", exact=True)).to_have_value("500")
    await screenshots(page, "add-money")
    await form.get_by_role("button", name="Continue to payment").click()

    # the gateway's own page, on its own address, plainly a test
    await expect(page.get_by_text("TEST GATEWAY")).to_be_visible()
    await expect(page.get_by_text("₹500.00", exact=True)).to_be_visible()
    await screenshots(page, "sandbox-checkout")
    await page.get_by_role("button", name="Pay ₹500.00").click()

    await expect(page).to_have_url(re.compile(r"#/topups/.+\?result=paid"))
    status = page.get_by_test_id("topup-status")
    await expect(status).to_contain_text("₹500.00 added ✓", timeout=30_000)
    await screenshots(page, "topup-credited")
    await page.get_by_role("link", name="Done").click()
    await balance_is(page, "₹600.00")

    # a PIN first, then the withdrawal confirmed with it
    await page.goto("/#/security")
    pin_form = page.get_by_role("form", name="Transaction PIN")
    await pin_form.get_by_label("Choose a PIN").fill("482916")
    await pin_form.get_by_label("Type the PIN again").fill("482916")
    await pin_form.get_by_role("button", name="Set PIN").click()
    await expect(pin_form.get_by_role("status")).to_be_visible()

    # a minimum-KYC wallet cannot withdraw to a bank: the form says so; verify the PAN
    await page.goto("/#/withdraw")
    await expect(page.get_by_test_id("kyc-needed")).to_be_visible()
    await screenshots(page, "withdraw-needs-kyc")
    await upgrade_kyc(page, person.name)

    await page.goto("/#/withdraw")
    withdraw = page.get_by_role("form", name="Withdraw to bank")
    await expect(withdraw.get_by_test_id("available")).to_have_text("Available: ₹600.00")
    await expect(page.get_by_test_id("kyc-needed")).to_be_hidden()
    await expect(withdraw.get_by_test_id("available")).to_have_text("Available: ₹600.00")
    await withdraw.get_by_label("Amount", exact=True).fill("250")
    await withdraw.get_by_label("Account number").fill("50100123456789")
    await withdraw.get_by_label("IFSC").fill("hdfc0001234x")
    await withdraw.get_by_label("Account holder's name").fill(person.name)
    await withdraw.get_by_label("Transaction PIN").fill("482916")
    await withdraw.get_by_role("button", name="Withdraw").click()
    await expect(withdraw.get_by_text("An IFSC is 11 characters")).to_be_visible()
    await withdraw.get_by_label("IFSC").fill("hdfc0001234")
    await withdraw.get_by_label("Transaction PIN").fill("111112")
    await withdraw.get_by_role("button", name="Withdraw").click()
    await expect(withdraw.get_by_text("That PIN is not right. 2 tries left.")).to_be_visible()
    await withdraw.get_by_label("Transaction PIN").fill("482916")
    await withdraw.get_by_role("button", name="Withdraw").click()
    await expect(withdraw.get_by_test_id("withdrawal-status")).to_contain_text(
        "Sent to the bank", timeout=30_000
    )
    await expect(withdraw.get_by_test_id("available")).to_have_text("Available: ₹350.00")
    await screenshots(page, "withdrawal-sent")

    await page.goto("/#/history")
    await expect(page.get_by_test_id("topup-row")).to_contain_text("+₹500.00")
    await expect(page.get_by_test_id("withdrawal-row")).to_contain_text("\u2212₹250.00")
    await screenshots(page, "history-money")
    assert watched.page_errors == [] and watched.console_errors == []


async def test_money_the_wallet_cannot_take_is_refunded_and_the_limit_is_named(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    person = Account(unique_name("Farhan"))
    await sign_up(page, person, pin=None)
    await balance_is(page, "₹100.00")

    # with the ₹100.00 promotion, ₹10,000 more passes a minimum-KYC wallet's balance cap
    await page.get_by_role("link", name="Add money").click()
    form = page.get_by_role("form", name="Add money")
    await form.get_by_label("Amount", exact=True).fill("10000")
    await form.get_by_role("button", name="Continue to payment").click()
    await page.get_by_role("button", name="Pay ₹10,000.00").click()

    status = page.get_by_test_id("topup-status")
    await expect(status).to_contain_text("₹10,000.00 refunded", timeout=30_000)
    await expect(status).to_contain_text(
        "We could not add it: it would take your wallet above its balance limit."
    )
    await screenshots(page, "topup-refunded-over-the-balance-cap")
    await page.get_by_role("link", name="Done").click()
    await balance_is(page, "₹100.00")
    assert watched.page_errors == [] and watched.console_errors == []
