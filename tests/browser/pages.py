"""What a person does in the web client, as steps the tests share."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from playwright.async_api import Locator, Page, expect

from tests.conftest import unique_email, unique_phone
from tests.integration.stack import ROOT

PORTS_OFFSET = 100
DB_PREFIX = "tijori_browser_"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"
PIN = "482916"  # the transaction PIN the tests' people confirm payments with
MINUS = "\u2212"  # what the client shows before a sent amount

# Records every text the live payment status shows, so a test can see "Sending…" go by.
WATCH_STATUS = """() => {
  window.__statusTexts = [];
  const panel = document.querySelector('[data-testid="tx-status"]');
  new MutationObserver(() => window.__statusTexts.push(panel.textContent)).observe(panel, {
    childList: true, subtree: true, characterData: true,
  });
}"""


def unique_name(first: str) -> str:
    """A readable name that is unique within the run."""
    return f"{first} {uuid.uuid4().hex[:4].upper()}"


def send_form(page: Page) -> Locator:
    """The "Send money" card on home."""
    return page.get_by_role("region", name="Send money")


def pin_pad(page: Page) -> Locator:
    """The PIN pad a payment is confirmed in."""
    return page.get_by_role("dialog", name="Enter your PIN")


async def enter_pin(page: Page, pin: str = PIN) -> None:
    """Type the PIN into the pad and press Pay, as a person with a keyboard does."""
    pad = pin_pad(page)
    await expect(pad).to_be_visible()
    await page.keyboard.type(pin)
    await pad.get_by_role("button", name=re.compile(r"^Pay ")).click()


async def send_money(
    page: Page, *, to: str, amount: str, note: str = "", pin: str | None = PIN
) -> None:
    """Fill in and submit the send-money form on home, and confirm it with ``pin``
    (none: the pad is left to the test)."""
    form = send_form(page)
    await form.get_by_label("To", exact=True).fill(to)
    await form.get_by_label("Amount").fill(amount)
    await form.get_by_label("Note").fill(note)
    await form.get_by_role("button", name="Send money").click()
    if pin is not None:
        await enter_pin(page, pin)


async def status_texts(page: Page) -> list[str]:
    """Every text the live payment status showed since ``WATCH_STATUS`` ran."""
    texts: list[str] = await page.evaluate("() => window.__statusTexts")
    return texts


async def open_tab(page: Page, name: str) -> None:
    """Go to a screen through the main navigation."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    await expect(page.get_by_role("heading", level=1)).to_be_focused()


async def eventually_visible(page: Page, locator: Locator, timeout: float = 30) -> None:
    """Reload until ``locator`` shows: for lists that fill in after an event is consumed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await expect(locator.first).to_be_visible(timeout=2_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await page.reload()


@dataclass
class Account:
    """Who signs up in a test."""

    name: str
    email: str = field(default_factory=unique_email)
    phone: str = field(default_factory=lambda: unique_phone()[3:])  # 10 digits, as typed
    password: str = PASSWORD


async def sign_up(page: Page, account: Account, *, pin: str | None = PIN) -> None:
    """Sign up through the form and verify the e-mail with the code from the development
    mailbox; ends on home with the wallet open and, with ``pin``, that transaction PIN
    set (through the API, as the Security screen does)."""
    await page.goto("/#/signup")
    await page.get_by_label("Full name").fill(account.name)
    await page.get_by_label("E-mail").fill(account.email)
    await page.get_by_label("Mobile number").fill(account.phone)
    await page.get_by_label("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Create account").click()
    await verify_email(page, account.email)
    if pin is not None:
        await set_pin(page, pin)


async def mailed_code(page: Page, email: str, *, newer_than: str | None = None) -> str:
    """The verification code e-mailed to ``email``, read as the web client reads the
    development mailbox (the newest code mail; with ``newer_than``, another code)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = await page.request.get("/api/dev/mailbox", params={"receiver": email})
        assert answer.ok, await answer.text()
        for mail in (await answer.json())["items"]:  # newest first
            if mail["subject"] == "Your Tijori verification code":
                [code] = re.findall(r"\b[0-9]{6}\b", mail["body"])
                if code != newer_than:
                    return str(code)
                break
        await page.wait_for_timeout(200)
    raise AssertionError(f"no verification code reached {email}")


async def verify_email(page: Page, email: str) -> None:
    """On the verification screen, enter the code e-mailed to ``email``; ends on home."""
    await expect(page.get_by_role("heading", level=1)).to_have_text("Verify your e-mail")
    form = page.get_by_role("form", name="Verify your e-mail")
    await form.get_by_label("Verification code").fill(await mailed_code(page, email))
    await form.get_by_role("button", name="Verify e-mail").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


async def set_pin(page: Page, pin: str = PIN) -> None:
    """Set the signed-in person's first transaction PIN."""
    token = await page.evaluate("() => sessionStorage.getItem('tijori.token')")
    answer = await page.request.put(
        "/api/users/me/pin", data={"pin": pin}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 204, await answer.text()


async def upgrade_kyc(page: Page, name: str, pan: str = "ABCPR1234F") -> None:
    """Verify the signed-in person's PAN on the Limits screen (the sandbox verifies any
    PAN but those whose digits are 0000 or 9999) and wait for the full-KYC limits."""
    await page.goto("/#/limits")
    kyc = page.get_by_role("form", name="Upgrade to full KYC")
    await kyc.get_by_label("PAN", exact=True).fill(pan)
    # a PAN's name has no digits, as unique_name's have
    await kyc.get_by_label("Name as on your PAN").fill(name.split()[0] + " Sharma")
    await kyc.get_by_label("Date of birth").fill("1994-08-15")
    await kyc.get_by_role("button", name="Verify my PAN").click()
    limits = page.get_by_role("region", name="Your limits")
    await expect(limits.locator(".tier-badge")).to_have_text("Full KYC", timeout=30_000)


async def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the form."""
    await page.goto("/#/login")
    await page.get_by_label("E-mail or mobile number").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()


async def balance_is(page: Page, text: str) -> None:
    """Wait until home shows ``text`` as the balance."""
    await expect(page.get_by_test_id("balance")).to_have_text(text, timeout=30_000)


async def screenshots(page: Page, name: str) -> None:
    """Save the whole screen as a phone and as a desktop would show it.

    The viewport is stretched to the page's height rather than using a full-page
    capture, so that the fixed tab bar is drawn at the bottom where a person sees it.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        height: int = await page.evaluate(
            "() => new Promise((done) => { scrollTo(0, 0); requestAnimationFrame(() =>"
            " done(document.documentElement.scrollHeight)); })"
        )
        await page.set_viewport_size(
            {"width": size["width"], "height": max(height, size["height"])}
        )
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), animations="disabled")
    if before:
        await page.set_viewport_size(before)


@dataclass
class Watched:
    """A page and everything it said that a person should never see."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    api_answers: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No script error, no console error, no dialog (API answers the page handled aside)."""
        assert self.page_errors == [], self.page_errors
        assert self.console_errors == [], self.console_errors
        assert self.dialogs == [], self.dialogs


NewPage = Callable[..., Awaitable[Watched]]
