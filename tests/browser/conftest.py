"""Fixtures of the browser tests: the real stack beside the integration one, and Chromium.

The stack runs on ports 18180-18184 and in ``tijori_browser_*`` databases, so that
this suite and ``tests/integration`` can share one pytest session.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    async_playwright,
    expect,
)
from playwright.async_api import Error as PlaywrightError

from tests.browser.pages import DB_PREFIX, PHONE, PORTS_OFFSET, NewPage, Watched
from tests.integration.stack import Stack, start_stack, stop_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chromium's own line for an HTTP error answer to fetch(); the page handled the answer.
HANDLED_API_ANSWER = re.compile(r"^Failed to load resource: the server responded with a status of")

expect.set_options(timeout=20_000)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the web client in Chromium against the real stack"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="package")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("browser-stack")
    # the product as people get it: every sign-up verifies its e-mail (pages.sign_up reads
    # the code in the development mailbox, as the web client links it)
    running = start_stack(
        workdir,
        ports_offset=PORTS_OFFSET,
        db_prefix=DB_PREFIX,
        settings={"TIJORI_REQUIRE_EMAIL_VERIFICATION": "true"},
    )
    try:
        # as `tijori up` does: the gateway lets the web client read the local mailbox
        running.env["TIJORI_DEV_MAILDIR"] = str(running.maildir)
        running.restart_edge()
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def new_page(browser: Browser, web_stack: Stack) -> AsyncIterator[NewPage]:
    """Open pages, each in its own context (its own sessionStorage: its own person)."""
    contexts: list[BrowserContext] = []

    async def open_page(
        viewport: dict[str, int] | None = None, user_agent: str | None = None
    ) -> Watched:
        context = await browser.new_context(
            base_url=web_stack.gateway,
            viewport=viewport or PHONE,
            locale="en-IN",
            user_agent=user_agent,
        )
        contexts.append(context)
        page = await context.new_page()
        watched = Watched(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            text = f"{message.text} ({message.location.get('url', '')})"
            if HANDLED_API_ANSWER.match(message.text) and "/api/" in text:
                watched.api_answers.append(text)
            else:
                watched.console_errors.append(text)

        async def on_dialog(dialog: Dialog) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
        page.on("dialog", on_dialog)
        return watched

    yield open_page
    for context in contexts:
        try:
            await context.close()
        except PlaywrightError:
            pass
