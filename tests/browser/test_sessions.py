"""Sessions in the web client: tokens renewed without the person noticing, the Sessions
screen ending a session of another browser, log out everywhere, and log-out ending the
session on the server."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.pages import DESKTOP, Account, NewPage, log_in, screenshots, sign_up, unique_name

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
SESSION_KEYS = (
    "() => [sessionStorage.getItem('tijori.token'), sessionStorage.getItem('tijori.refresh_token')]"
)


async def _tokens(page: Page) -> tuple[str | None, str | None]:
    token, refresh = await page.evaluate(SESSION_KEYS)
    return token, refresh


async def _open_sessions(page: Page) -> None:
    await page.get_by_role("link", name="Security").click()
    await page.get_by_role("link", name="Manage sessions").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    await expect(page).to_have_title("Sessions · Tijori")


async def test_a_person_ends_the_session_of_another_browser_from_the_sessions_screen(
    new_page: NewPage,
) -> None:
    laptop_tab, phone_tab = await new_page(DESKTOP), await new_page(user_agent=ANDROID_CHROME)
    laptop, phone = laptop_tab.page, phone_tab.page
    account = Account(unique_name("Nisha"))
    await sign_up(laptop, account, pin=None)
    await log_in(phone, account.email)
    await expect(phone.get_by_role("heading", level=1)).to_contain_text("Hello")

    await _open_sessions(laptop)
    rows = laptop.get_by_test_id("session")
    await expect(rows).to_have_count(2)
    here = laptop.locator('[data-testid="session"][data-current="true"]')
    await expect(here).to_contain_text("This device")
    await expect(here.get_by_role("button")).to_have_count(0)  # this one is ended by Log out
    await expect(rows.first).to_contain_text("Headless Chrome on Linux")  # this one first
    away = laptop.locator('[data-testid="session"][data-current="false"]')
    await expect(away).to_contain_text("Chrome on Android")
    await expect(away).to_contain_text("Last active")
    await expect(laptop.get_by_role("button", name="Log out everywhere else")).to_be_visible()
    await screenshots(laptop, "sessions")

    await away.get_by_role("button", name="End the session on Chrome on Android").click()
    await expect(laptop.get_by_role("status").filter(has_text="has ended")).to_have_text(
        "The session on Chrome on Android has ended."
    )
    await expect(rows).to_have_count(1)
    await expect(laptop.get_by_text("You are not logged in anywhere else.")).to_be_visible()
    await expect(laptop.get_by_role("button", name="Log out everywhere else")).to_be_hidden()
    await screenshots(laptop, "sessions-one-ended")

    # the phone's session is over: its next look at its sessions sends it to log in
    await phone.get_by_role("link", name="Security").click()
    await phone.get_by_role("link", name="Manage sessions").click()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Welcome back")
    await expect(phone.get_by_text("This session was ended, from another device")).to_be_visible()
    assert await _tokens(phone) == (None, None)
    await screenshots(phone, "sessions-ended-elsewhere")
    laptop_tab.assert_clean()
    phone_tab.assert_clean()


async def test_log_out_everywhere_else_leaves_only_this_browser_logged_in(
    new_page: NewPage,
) -> None:
    laptop_tab, phone_tab = await new_page(DESKTOP), await new_page()
    laptop, phone = laptop_tab.page, phone_tab.page
    account = Account(unique_name("Arjun"))
    await sign_up(laptop, account, pin=None)
    await log_in(phone, account.email)
    await expect(phone.get_by_role("heading", level=1)).to_contain_text("Hello")
    _, phone_refresh = await _tokens(phone)

    await _open_sessions(laptop)
    await expect(laptop.get_by_test_id("session")).to_have_count(2)
    await laptop.get_by_role("button", name="Log out everywhere else").click()
    await expect(laptop.get_by_role("status").filter(has_text="everywhere else")).to_have_text(
        "You are logged out everywhere else. This device stays logged in."
    )
    await expect(laptop.get_by_test_id("session")).to_have_count(1)
    refused = await phone.request.post("/api/auth/refresh", data={"refresh_token": phone_refresh})
    assert refused.status == 401 and (await refused.json())["code"] == "invalid_refresh_token"

    # and Log out ends this session on the server too, not just in this tab
    _, laptop_refresh = await _tokens(laptop)
    await laptop.get_by_role("button", name="Log out").click()
    await expect(laptop.get_by_text("You have logged out.")).to_be_visible()
    assert await laptop.evaluate("() => sessionStorage.length") == 0
    after = await laptop.request.post("/api/auth/refresh", data={"refresh_token": laptop_refresh})
    assert after.status == 401
    laptop_tab.assert_clean()


async def test_an_access_token_is_renewed_before_it_expires_and_after_a_401(
    new_page: NewPage,
) -> None:
    watched = await new_page()
    page = watched.page
    await sign_up(page, Account(unique_name("Farah")), pin=None)
    first_token, first_refresh = await _tokens(page)

    # about to expire: the next request renews it first
    await page.evaluate("() => sessionStorage.setItem('tijori.expires_at', String(Date.now()))")
    await page.get_by_role("link", name="Security").click()
    await expect(page.get_by_role("form", name="Transaction PIN")).to_be_visible()
    token, refresh = await _tokens(page)
    assert token and token != first_token and refresh and refresh != first_refresh

    # refused as expired or invalid: renewed once, and the request sent again
    await page.evaluate("() => sessionStorage.setItem('tijori.token', 'no-longer-valid')")
    await page.get_by_role("link", name="Manage sessions").click()
    await expect(page.get_by_test_id("session")).to_have_count(1)
    renewed, next_refresh = await _tokens(page)
    assert renewed not in (None, "no-longer-valid") and next_refresh not in (None, refresh)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    assert watched.page_errors == [] and watched.dialogs == []


async def test_changing_the_password_logs_the_other_browser_out(new_page: NewPage) -> None:
    laptop_tab, phone_tab = await new_page(DESKTOP), await new_page(user_agent=ANDROID_CHROME)
    laptop, phone = laptop_tab.page, phone_tab.page
    account = Account(unique_name("Kabir"))
    await sign_up(laptop, account, pin=None)
    await log_in(phone, account.email)
    await expect(phone.get_by_role("heading", level=1)).to_contain_text("Hello")

    await laptop.get_by_role("link", name="Security").click()
    form = laptop.get_by_role("form", name="Password")
    await form.get_by_label("Current password").fill("not my password")
    await form.get_by_label("New password").fill("a much longer horse")
    await form.get_by_role("button", name="Change password").click()
    await expect(form.get_by_text("That is not your current password.")).to_be_visible()
    await form.get_by_label("Current password").fill(account.password)
    await form.get_by_label("New password").fill("short")
    await form.get_by_role("button", name="Change password").click()
    await expect(form.get_by_text("Use at least 8 characters.")).to_be_visible()
    await form.get_by_label("New password").fill("a much longer horse")
    await form.get_by_role("button", name="Change password").click()
    await expect(form.get_by_role("status")).to_have_text(
        "Your password is changed. You are logged out everywhere else."
    )
    await screenshots(laptop, "security-password-changed")

    await phone.get_by_role("link", name="Security").click()
    await phone.get_by_role("link", name="Manage sessions").click()
    await expect(phone.get_by_text("This session was ended, from another device")).to_be_visible()
    await log_in(phone, account.email, "a much longer horse")
    # back where it was: this phone's new session beside the laptop's, which stayed
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Sessions")
    await expect(phone.get_by_test_id("session")).to_have_count(2)
    laptop_tab.assert_clean()
    phone_tab.assert_clean()
