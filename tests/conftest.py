"""Fixtures every test may use."""

from __future__ import annotations

import asyncio
import faulthandler
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def unique_email(tag: str = "user") -> str:
    """An e-mail address no other test (or earlier run) has used."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def unique_phone() -> str:
    """A valid Indian mobile number, random enough not to collide within a run."""
    return "+919" + str(uuid.uuid4().int)[:9]


async def poll(
    probe: Any, *, timeout: float = 30, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Await ``probe()`` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# a test still running after this long is stuck: its threads' and asyncio tasks' stacks
# are written to stderr (pyproject's faulthandler_timeout ends the run later)
STUCK_TEST_SECONDS = 300


def _dump_stacks(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # to the terminal, not the test's capture
        out = sys.stderr
        print(f"\n[watchdog] {item.nodeid} still runs after {STUCK_TEST_SECONDS}s", file=out)
        faulthandler.dump_traceback(file=out, all_threads=True)
        for task in list(asyncio.tasks._all_tasks):  # read from this thread: a snapshot
            if not task.done():
                task.print_stack(file=out)
        out.flush()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Say where a stuck test is stuck, while it still is."""
    watchdog = threading.Timer(STUCK_TEST_SECONDS, _dump_stacks, args=(item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return (yield)
    finally:
        watchdog.cancel()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault suite restarts shared servers on purpose: it runs after everything else."""
    items.sort(key=lambda item: "tests/faults" in str(item.fspath))
