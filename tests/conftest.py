"""Fixtures every test may use."""

from __future__ import annotations

import asyncio
import time
import uuid
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault suite restarts shared servers on purpose: it runs after everything else."""
    items.sort(key=lambda item: "tests/faults" in str(item.fspath))
