"""Sign-up and log-in tell a person what to fix, next to the field to fix."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import Locator, Page, Route, expect

from tests.browser.pages import (
    PASSWORD,
    Account,
    NewPage,
    log_in,
    screenshots,
    unique_name,
    verify_email,
)
from tests.integration.stack import Stack


async def field_error(page: Page, label: str) -> Locator:
    """The error line tied to the field labelled ``label`` by aria-describedby."""
    field = page.get_by_label(label, exact=True)
    await expect(field).to_have_attribute("aria-invalid", "true")
    described_by = await field.get_attribute("aria-describedby")
    assert described_by
    error_id = next(part for part in described_by.split() if part.endswith("-error"))
    return page.locator(f"#{error_id}")


async def create_account(stack: Stack, account: Account) -> None:
    """Sign someone up through the API (faster than the form, for a test's setup)."""
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as client:
        created = await client.post(
            "/api/users",
            json={
                "name": account.name,
                "email": account.email,
                "phone": account.phone,
                "password": account.password,
            },
        )
        assert created.status_code == 201, created.text


async def submit_sign_up(page: Page, *, name: str, email: str, phone: str, password: str) -> None:
    await page.get_by_label("Full name").fill(name)
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Mobile number").fill(phone)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Create account").click()


async def test_sign_up_shows_each_problem_next_to_its_field(
    new_page: NewPage, web_stack: Stack
) -> None:
    existing = Account(unique_name("Existing"))
    await create_account(web_stack, existing)
    watched = await new_page()
    page = watched.page
    await page.goto("/#/signup")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")

    await page.get_by_role("button", name="Create account").click()
    await expect(await field_error(page, "Full name")).to_have_text("Enter your name.")
    await expect(await field_error(page, "E-mail")).to_have_text("Enter your e-mail address.")
    await expect(page.get_by_label("Full name")).to_be_focused()

    newcomer = Account(unique_name("Newcomer"))
    # caught in the browser: the same codes the API uses, before a round trip
    await submit_sign_up(
        page, name=newcomer.name, email="not-an-email", phone="12345", password="short"
    )
    await expect(await field_error(page, "E-mail")).to_contain_text("valid e-mail address")
    await expect(await field_error(page, "Mobile number")).to_contain_text("valid mobile number")
    await expect(await field_error(page, "Password")).to_have_text("Use at least 8 characters.")
    await expect(page.get_by_label("E-mail")).to_be_focused()
    await screenshots(page, "signup-errors")

    # caught by the API (invalid_email, invalid_phone in errors[])
    await submit_sign_up(
        page,
        name=newcomer.name,
        email="someone@example.invalid",
        phone="00000 00000",
        password=PASSWORD,
    )
    await expect(await field_error(page, "E-mail")).to_contain_text("valid e-mail address")
    await expect(await field_error(page, "Mobile number")).to_contain_text("valid mobile number")
    await expect(page.get_by_label("Password", exact=True)).to_have_attribute(
        "aria-invalid", "false"
    )

    # email_taken, then phone_taken (409)
    await submit_sign_up(
        page, name=newcomer.name, email=existing.email, phone=newcomer.phone, password=PASSWORD
    )
    await expect(await field_error(page, "E-mail")).to_contain_text("already exists")
    await expect(page.get_by_label("Mobile number")).to_have_attribute("aria-invalid", "false")
    await submit_sign_up(
        page, name=newcomer.name, email=newcomer.email, phone=existing.phone, password=PASSWORD
    )
    await expect(await field_error(page, "Mobile number")).to_contain_text("already exists")
    await screenshots(page, "signup-taken")

    # typing fixes clear the error at once
    await page.get_by_label("Mobile number").fill(newcomer.phone)
    await expect(page.get_by_label("Mobile number")).to_have_attribute("aria-invalid", "false")
    await page.get_by_role("button", name="Create account").click()
    await verify_email(page, newcomer.email)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {newcomer.name}")
    watched.assert_clean()


async def test_log_in_says_when_the_password_is_wrong(new_page: NewPage, web_stack: Stack) -> None:
    account = Account(unique_name("Returning"))
    await create_account(web_stack, account)
    watched = await new_page()
    page = watched.page
    await page.goto("/#/login")
    await page.get_by_role("button", name="Log in").click()
    await expect(await field_error(page, "E-mail or mobile number")).to_contain_text("Enter your")
    await expect(await field_error(page, "Password")).to_have_text("Enter your password.")

    await log_in(page, account.email, "not the password")
    await expect(page.get_by_role("alert")).to_contain_text("is not right")
    await expect(page.get_by_label("Password", exact=True)).to_be_focused()
    await screenshots(page, "login-wrong-password")

    async def rate_limited(route: Route) -> None:
        await route.fulfill(
            status=429,
            content_type="application/problem+json",
            headers={"Retry-After": "300"},
            body=json.dumps(
                {
                    "type": "https://tijori.dev/problems/too-many-attempts",
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": "too many failed log-in attempts; try again later",
                    "code": "too_many_attempts",
                }
            ),
        )

    # the limiter's answer is faked here: real failures would count against this machine's address
    await page.route("**/api/auth/token", rate_limited)
    await log_in(page, account.email)
    await expect(page.get_by_role("alert")).to_have_text(
        "Too many attempts. Try again in 5 minutes."
    )
    await page.unroute("**/api/auth/token")

    await log_in(page, account.phone)  # the phone works as the username too
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {account.name}")
    watched.assert_clean()
