"""A service process in a role: HTTP only (with its relay), or the background work only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tijori.transactions.app import create_app
from tijori.transactions.config import TransactionsSettings


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("all", ["outbox-relay", "transactions", "redrive_forever"]),
        ("api", ["outbox-relay"]),
        ("worker", ["outbox-relay", "transactions", "redrive_forever"]),
    ],
)
async def test_an_api_process_leaves_consuming_and_re_driving_to_a_worker(
    role: str, expected: list[str], tmp_path: Path
) -> None:
    settings = TransactionsSettings(
        data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9", role=role, redis_url=None
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert app.state.background == expected


@pytest.mark.parametrize(("role", "serves_api"), [("all", True), ("api", True), ("worker", False)])
def test_a_worker_serves_its_probes_and_metrics_but_not_the_api(
    role: str, serves_api: bool, tmp_path: Path
) -> None:
    app = create_app(TransactionsSettings(data_dir=tmp_path, role=role))
    paths = set(app.openapi()["paths"])
    assert {"/health", "/ready"} <= paths  # /metrics is mounted, outside the OpenAPI
    assert ("/api/transactions" in paths) is serves_api
