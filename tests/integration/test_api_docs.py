"""The API documents a running Tijori serves."""

from __future__ import annotations

import httpx

from tests.integration.stack import Stack
from tijori.common.errors import PROBLEM_JSON


async def test_the_gateway_serves_one_document_with_every_service_operation(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    answer = await gateway.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    combined = answer.json()
    for service in ("users", "wallets", "transactions", "notifications"):
        async with httpx.AsyncClient(base_url=stack.service_url(service)) as client:
            own = (await client.get("/openapi.json")).json()
        for path, item in own["paths"].items():
            if path.startswith("/api/"):
                assert set(item) <= set(combined["paths"].get(path, {})), (service, path)
    send = combined["paths"]["/api/transactions"]["post"]
    assert set(send["responses"]) >= {"202", "401", "404", "409", "422", "503"}
    examples = send["responses"]["422"]["content"][PROBLEM_JSON]["examples"]
    assert "insufficient_funds" in examples
    docs = await gateway.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
