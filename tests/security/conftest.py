"""The security suite's own stack on the real MariaDB, Kafka and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import Stack, start_stack, stop_stack


@pytest.fixture(scope="package")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("security")
    running = start_stack(workdir, ports_offset=600, db_prefix="tijori_security_")
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="package")
async def secure_gateway(secure_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=secure_stack.gateway, timeout=30) as client:
        yield client
