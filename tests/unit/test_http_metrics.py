"""HTTP metrics are counted by route template, and /metrics serves them."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.unit.conftest import metric_value
from tijori.common.metrics import install_http_metrics


def _count(handler: str, status: str) -> float:
    return metric_value("http_requests_total", handler=handler, method="GET", status=status)


async def test_requests_are_counted_by_route_template_and_status_class() -> None:
    app = FastAPI()
    install_http_metrics(app)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    before = (_count("/things/{thing_id}", "2xx"), _count("/things/{thing_id}", "4xx"))
    unmatched = _count("none", "4xx")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/things/1", "/things/2", "/things/x", "/nowhere", "/metrics"):
            await client.get(path)
        scraped = (await client.get("/metrics")).text
    assert _count("/things/{thing_id}", "2xx") == before[0] + 2
    assert _count("/things/{thing_id}", "4xx") == before[1] + 1
    assert _count("none", "4xx") == unmatched + 1
    assert _count("/metrics", "2xx") == 0  # scrapes are not counted
    assert 'http_request_duration_seconds_bucket{handler="/things/{thing_id}"' in scraped
