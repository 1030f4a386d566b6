"""Unit-test fixtures: migrated SQLite databases (the embedded default) per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.transfers import wallet_created
from tijori.common.cache import MemoryCache
from tijori.common.db import UnitOfWork, UnitOfWorkFactory, create_engine, create_sessionmaker
from tijori.common.migrations import upgrade
from tijori.transactions import directory


@asynccontextmanager
async def running(loop: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run a background loop (a relay's, a mailer's) while the block runs, then stop it
    (it must still be running: a loop that ended by itself is a failure)."""
    task = asyncio.create_task(loop)
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def run_until(loop: Coroutine[Any, Any, None], done: asyncio.Event, seconds: float) -> None:
    """Run a background loop until ``done`` is set, then stop it; ``TimeoutError`` if
    that takes longer than ``seconds``."""
    async with running(loop):
        await asyncio.wait_for(done.wait(), seconds)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Callable[[str], str]:
    """Migrate a fresh SQLite database for a service and return its URL."""

    def make(service: str) -> str:
        url = f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}"
        # Alembic runs its own event loop: keep it off the test's loop
        with ThreadPoolExecutor(max_workers=1) as worker:
            worker.submit(upgrade, service, url).result()
        return url

    return make


@asynccontextmanager
async def _units_of(url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    yield lambda: UnitOfWork(sessions)
    await engine.dispose()


@pytest.fixture
async def wallets_units(sqlite_url: Callable[[str], str]) -> AsyncIterator[UnitOfWorkFactory]:
    async with _units_of(sqlite_url("wallets")) as units:
        yield units


@pytest.fixture
async def notifications_units(
    sqlite_url: Callable[[str], str],
) -> AsyncIterator[UnitOfWorkFactory]:
    async with _units_of(sqlite_url("notifications")) as units:
        yield units


@pytest.fixture
async def transactions_units(
    sqlite_url: Callable[[str], str],
) -> AsyncIterator[UnitOfWorkFactory]:
    async with _units_of(sqlite_url("transactions")) as units:
        yield units


@pytest.fixture
async def known(transactions_units: UnitOfWorkFactory) -> MemoryCache:
    """A transactions directory that knows Asha's and Ravi's wallets (₹100 each)."""
    cache = MemoryCache()
    async with transactions_units() as uow:
        for user_id in ("asha", "ravi"):
            await directory.remember_wallet(uow, cache, wallet_created(user_id), ttl_seconds=60)
        await uow.commit()
    return cache


@asynccontextmanager
async def users_client(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a users app with ``settings``, started (its lifespan and loops) and
    served in this process; the app is ``client.app``."""
    from tijori.users.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def metric_value(name: str, **labels: str) -> float:
    """The current value of the Prometheus sample ``name`` with ``labels`` (0 before
    its first count)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0
