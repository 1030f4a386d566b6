"""Freezing the wallet from the Security screen (issue 20): a frozen wallet is shown as
such on home and sends nothing; it is unfrozen with the password, then the PIN."""

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


async def test_a_person_freezes_the_wallet_is_refused_a_payment_and_unfreezes_it(
    new_page: NewPage,
) -> None:
    asha, bilal = Account(unique_name("Asha")), Account(unique_name("Bilal"))
    sender, receiver = await new_page(), await new_page()
    await asyncio.gather(sign_up(sender.page, asha), sign_up(receiver.page, bilal))
    page = sender.page
    await balance_is(page, "₹100.00")

    await page.get_by_role("link", name="Security", exact=True).click()
    card = page.get_by_role("region", name="Freeze wallet")
    await expect(card.get_by_text("Active", exact=True)).to_be_visible()
    await card.get_by_role("button", name="Freeze my wallet").click()
    frozen = page.get_by_role("region", name="Wallet frozen")
    await expect(frozen.get_by_role("status")).to_contain_text("Your wallet is frozen")
    await screenshots(page, "security-wallet-frozen")

    await open_tab(page, "Home")
    await expect(page.get_by_test_id("frozen")).to_contain_text("No money can leave it")
    await send_money(page, to=bilal.email, amount="10", pin=None)
    await expect(send_form(page).get_by_role("alert")).to_contain_text("Your wallet is frozen")
    await expect(pin_pad(page)).to_be_hidden()  # refused before the PIN is asked
    await screenshots(page, "home-wallet-frozen")

    await page.get_by_role("link", name="Unfreeze", exact=True).click()  # from the balance card
    await expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    unfreeze = page.get_by_role("form", name="Unfreeze wallet")
    await unfreeze.get_by_label("Your password").fill("not my password")
    await unfreeze.get_by_role("button", name="Unfreeze wallet").click()
    pad = pin_pad(page)
    await expect(pad).to_contain_text("To unfreeze your wallet")
    await screenshots(page, "security-unfreeze-pin")
    await page.keyboard.type(PIN)
    await pad.get_by_role("button", name="Unfreeze").click()
    await expect(unfreeze.get_by_text("That password is not right.")).to_be_visible()
    await unfreeze.get_by_label("Your password").fill(asha.password)
    await unfreeze.get_by_role("button", name="Unfreeze wallet").click()
    await page.keyboard.type(PIN)
    await pad.get_by_role("button", name="Unfreeze").click()
    card = page.get_by_role("region", name="Freeze wallet")
    await expect(card.get_by_role("status")).to_have_text(
        "Your wallet is unfrozen. You can send money again."
    )
    await screenshots(page, "security-wallet-unfrozen")

    await open_tab(page, "Home")
    await expect(page.get_by_test_id("frozen")).to_be_hidden()
    await send_money(page, to=bilal.email, amount="10")
    await expect(page.get_by_test_id("tx-status")).to_contain_text("Sent ✓")
    await balance_is(page, "₹90.00")
    sender.assert_clean()
