"""The fault suite's own stack on the real MariaDB, Kafka and Redis, and its report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import PIN, Person, sign_up, wallet_of
from tests.integration.stack import ROOT, Stack, start_stack, stop_stack
from tijori.common.db import create_engine

PEOPLE = 8
REPORT = ROOT / "test-artifacts" / "reliability.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="package")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("faults")
    # events survive these faults in Kafka: a re-drive is the last resort, not the first
    running = start_stack(
        workdir,
        ports_offset=500,
        db_prefix="tijori_faults_",
        settings={"TIJORI_PENDING_TIMEOUT_SECONDS": "20"},
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="package")
async def fault_gateway(fault_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fault_stack.gateway, timeout=30) as client:
        yield client


@pytest.fixture(scope="package")
async def engines(fault_stack: Stack) -> AsyncIterator[dict[str, AsyncEngine]]:
    made = {
        name: create_engine(fault_stack.database_url(name))
        for name in ("wallets", "transactions", "notifications")
    }
    yield made
    for engine in made.values():
        await engine.dispose()


@pytest.fixture(scope="package")
async def people(fault_gateway: httpx.AsyncClient) -> list[Person]:
    crowd = [await sign_up(fault_gateway, name=f"Steady {n}", pin=PIN) for n in range(PEOPLE)]
    for person in crowd:
        await wallet_of(fault_gateway, person)
    return crowd


@pytest.fixture(scope="package")
def report() -> Iterator[dict[str, Any]]:
    figures: dict[str, Any] = {}
    yield figures
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n")
