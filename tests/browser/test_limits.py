"""The Limits screen: each limit's bar of used and left, and the full-KYC upgrade with a
PAN, refused, then verified, as a person does it."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.pages import Account, NewPage, balance_is, screenshots, sign_up, unique_name


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
