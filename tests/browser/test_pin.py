"""The Security screen: choosing the transaction PIN, refusals in words, changing it."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.pages import Account, NewPage, balance_is, screenshots, sign_up, unique_name


async def test_a_person_sets_a_pin_is_told_why_a_weak_one_is_refused_and_changes_it(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    await page.goto("/")
    person = Account(unique_name("Meera"))
    await sign_up(page, person, pin=None)
    await balance_is(page, "₹100.00")

    await page.get_by_role("link", name="Security").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    await expect(page).to_have_title("Security · Tijori")
    form = page.get_by_role("form", name="Transaction PIN")
    await expect(form.get_by_label("Current PIN")).to_be_hidden()
    await form.get_by_label("Choose a PIN").fill("1234")
    await form.get_by_label("Type the PIN again").fill("1234")
    await form.get_by_role("button", name="Set PIN").click()
    await expect(form.get_by_text("This PIN is too easy to guess")).to_be_visible()
    await screenshots(page, "security-weak-pin")

    await form.get_by_label("Choose a PIN").fill("482916")
    await form.get_by_label("Type the PIN again").fill("482961")
    await form.get_by_role("button", name="Set PIN").click()
    await expect(form.get_by_text("The two PINs are not the same.")).to_be_visible()
    await form.get_by_label("Type the PIN again").fill("482916")
    await form.get_by_role("button", name="Set PIN").click()
    await expect(form.get_by_role("status")).to_have_text(
        "Your PIN is saved. Use it to confirm your payments."
    )
    await screenshots(page, "security-pin-saved")

    # changing it: the server counts a wrong current PIN and says how many tries are left
    await page.reload()
    await form.get_by_label("Current PIN").fill("000111")
    await form.get_by_label("New PIN").fill("739205")
    await form.get_by_label("Type the PIN again").fill("739205")
    await form.get_by_role("button", name="Change PIN").click()
    await expect(form.get_by_text("That is not your current PIN. 2 tries left.")).to_be_visible()
    await screenshots(page, "security-wrong-pin")
    await form.get_by_label("Current PIN").fill("482916")
    await form.get_by_role("button", name="Change PIN").click()
    await expect(form.get_by_role("status")).to_be_visible()

    # forgotten: the password instead
    await form.get_by_role("button", name="Forgot your PIN? Use your password").click()
    await expect(form.get_by_label("Current PIN")).to_be_hidden()
    await form.get_by_label("Your password").fill(person.password)
    await form.get_by_label("New PIN").fill("580213")
    await form.get_by_label("Type the PIN again").fill("580213")
    await form.get_by_role("button", name="Change PIN").click()
    await expect(form.get_by_role("status")).to_be_visible()
    watched.assert_clean()
