"""The aggregator: the gateway's /ready over every process, and the development mailbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.unit.gateway import Echo, free_port, serving
from tijori.gateway.app import create_app
from tijori.gateway.config import GatewaySettings


@pytest.fixture
async def up() -> AsyncIterator[str]:
    """A stand-in service, ready (it answers every path with 200)."""
    async with serving(Echo("ready")) as url:
        yield url


@contextlib.asynccontextmanager
async def _aggregator(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agg") as client,
    ):
        yield client


async def test_ready_names_every_process_that_is_not_ready_replicas_and_workers_too(
    up: str, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        data_dir=tmp_path,
        users_url=up,
        wallets_url=up,
        transactions_url=f"{up},{down}",
        notifications_url=up,
        payments_url=up,
        worker_urls={"transactions-worker": down},
    )
    async with _aggregator(settings) as client:
        answer = await client.get("/ready")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert set(checks) == {
        "users",
        "wallets",
        "transactions-1",
        "transactions-2",
        "notifications",
        "payments",
        "transactions-worker",
    }
    assert checks["transactions-1"] == "ok"
    assert checks["transactions-2"].startswith("unavailable")
    assert checks["transactions-worker"].startswith("unavailable")


async def test_ready_when_every_process_is(up: str, tmp_path: Path) -> None:
    urls = {
        f"{name}_url": up
        for name in ("users", "wallets", "transactions", "notifications", "payments")
    }
    settings = GatewaySettings(data_dir=tmp_path, worker_urls={"transactions-worker": up}, **urls)
    async with _aggregator(settings) as client:
        answer = await client.get("/ready")
    assert answer.status_code == 200
    assert answer.json()["service"] == "gateway"


async def test_the_mailbox_is_there_only_in_development(tmp_path: Path) -> None:
    async with _aggregator(GatewaySettings(data_dir=tmp_path)) as client:
        absent = await client.get("/api/dev/mailbox")
    assert (absent.status_code, absent.json()["code"]) == (404, "not_found")
    (tmp_path / "mail").mkdir()
    mail = GatewaySettings(data_dir=tmp_path, dev_maildir=tmp_path / "mail")
    async with _aggregator(mail) as client:
        present = await client.get("/api/dev/mailbox")
    assert present.json() == {"items": []}


async def test_the_combined_docs_load_swagger_ui_from_the_gateway_itself(tmp_path: Path) -> None:
    async with _aggregator(GatewaySettings(data_dir=tmp_path)) as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        assert "cdn." not in page.text and "//" not in page.text.replace("http://", "")
        script = await client.get("/docs/static/swagger-ui-bundle.js")
        assert script.status_code == 200
