"""Every service's ``/docs`` works offline: Swagger UI comes from the installed package,
not from a public CDN beside a logged-in user's token (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tijori.notifications.app import create_app as notifications_app
from tijori.notifications.config import NotificationsSettings
from tijori.transactions.app import create_app as transactions_app
from tijori.transactions.config import TransactionsSettings
from tijori.users.app import create_app as users_app
from tijori.users.config import UsersSettings
from tijori.wallets.app import create_app as wallets_app
from tijori.wallets.config import WalletsSettings

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


def _app(service: str, data_dir: Path) -> FastAPI:
    return {
        "users": lambda: users_app(UsersSettings(data_dir=data_dir)),
        "wallets": lambda: wallets_app(WalletsSettings(data_dir=data_dir)),
        "transactions": lambda: transactions_app(TransactionsSettings(data_dir=data_dir)),
        "notifications": lambda: notifications_app(NotificationsSettings(data_dir=data_dir)),
    }[service]()


@pytest.mark.parametrize("service", ["users", "wallets", "transactions", "notifications"])
async def test_docs_load_swagger_ui_from_the_service_itself(service: str, tmp_path: Path) -> None:
    app = _app(service, tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "SwaggerUIBundle" in page.text
        references = [a or b for a, b in REFERENCE.findall(page.text)]
        assert any(ref.endswith(".js") for ref in references), references
        assert any(ref.endswith(".css") for ref in references), references
        for reference in references:
            assert reference.startswith("/"), f"{service} /docs loads {reference} from elsewhere"
            assert not reference.startswith("//"), reference
            loaded = await client.get(reference)
            assert loaded.status_code == 200, reference
        assert (await client.get("/redoc")).status_code == 404  # it, too, came from a CDN
