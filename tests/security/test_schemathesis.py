"""Schemathesis against every service's OpenAPI, through the gateway: no input gives a 5xx,
and every answer is one the document promises (status, content type, headers, schema)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import sign_up, wallet_of
from tests.integration.stack import Stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


@pytest.mark.parametrize("service", ["users", "wallets", "transactions", "notifications"])
async def test_generated_requests_get_documented_answers_and_never_a_server_error(
    service: str, secure_stack: Stack, secure_gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    person = await sign_up(secure_gateway, name="Fuzz Target")
    await wallet_of(secure_gateway, person)
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{secure_stack.service_url(service)}/openapi.json",
        "--url", secure_stack.gateway,
        "--checks", CHECKS,
        "--header", f"Authorization: Bearer {person.token}",
        "--max-examples", "15",
        "--seed", "20261125",
        "--request-timeout", "20",
        "--report", "junit",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=600, check=False
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"schemathesis-{service}.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
