"""``X-Forwarded-For`` is believed only from the trusted proxies (the gateway): from
anyone else, the log-in limit per address counts the address they connect from, so a
client cannot dodge it by writing a new address into each request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def users(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The users service alone (SQLite, the in-process cache), trusting ``request.param``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIJORI_")} | {
        "TIJORI_DATA_DIR": str(tmp_path),
        "TIJORI_TRUSTED_PROXIES": request.param,
        "TIJORI_LOGIN_MAX_FAILURES_PER_IP": "3",
    }
    tijori = [sys.executable, "-m", "tijori"]
    subprocess.run([*tijori, "migrate", "users"], env=env, check=True, capture_output=True)
    log = (tmp_path / "users.log").open("wb")
    server = subprocess.Popen(
        [*tijori, "serve", "users", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "users.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


def _wrong_log_ins(url: str) -> list[int]:
    """Four wrong log-ins, each for another name and claiming another address."""
    return [
        httpx.post(
            f"{url}/api/auth/token",
            data={"username": f"nobody-{uuid4().hex[:8]}@example.com", "password": "wrong-pass"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            timeout=30,
        ).status_code
        for n in range(4)
    ]


@pytest.mark.parametrize("users", ["10.1.2.3"], indirect=True)
def test_a_forwarded_address_from_an_untrusted_client_is_ignored(users: str) -> None:
    assert _wrong_log_ins(users) == [401, 401, 401, 429]  # one address: 127.0.0.1


@pytest.mark.parametrize("users", ["127.0.0.1"], indirect=True)
def test_the_trusted_gateway_s_forwarded_address_is_the_client_s(users: str) -> None:
    assert _wrong_log_ins(users) == [401, 401, 401, 401]  # four clients, one try each
