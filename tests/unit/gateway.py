"""A real Caddy, configured as ``tijori serve gateway`` configures it, in front of small
stand-in services on free local ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import poll
from tijori.gateway.caddy import caddy_binary, write_caddyfile
from tijori.gateway.config import GatewaySettings


def free_port() -> int:
    """A local TCP port nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Seen:
    """One request as a stand-in service received it."""

    service: str
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    # False when the connection ended before the body did
    whole: bool = True


@dataclass
class Echo:
    """A stand-in service: records each request, answers with what it got as JSON.

    ``/slow`` answers after 5 s; every answer sets a cookie and names its server.
    """

    name: str
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = bytes(scope["raw_path"]).decode("latin-1")
        whole = message["type"] != "http.disconnect"
        self.seen.append(Seen(self.name, scope["method"], raw_path, headers, body, whole))
        if raw_path.endswith("/slow"):
            await asyncio.sleep(5)
        answer = json.dumps({"service": self.name, "path": raw_path, "length": len(body)})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"set-cookie", b"a=1"),
                    (b"server", b"uvicorn"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.encode()})


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, **config: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn (with ``config``) on a free local port; its base URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", **config))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task


@dataclass
class Gateway:
    """A running Caddy and where its access log goes."""

    url: str
    log: Path
    settings: GatewaySettings

    def access_log(self) -> list[dict[str, Any]]:
        """The access log's entries so far."""
        entries = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and '"handled request"' in line:
                entries.append(json.loads(line))
        return entries


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, **settings: Any) -> AsyncIterator[Gateway]:
    """Caddy on a free port with ``settings`` (services on closed ports unless given);
    ``OTEL_*`` names among them go to Caddy's environment too, as `tijori up` hands them on."""
    closed = f"http://127.0.0.1:{free_port()}"
    defaults: dict[str, Any] = {
        "users_url": closed,
        "wallets_url": closed,
        "transactions_url": closed,
        "notifications_url": closed,
        "payments_url": closed,
        "aggregator_url": closed,
        "gateway_retry_seconds": 0.3,
    }
    exporter = {name: settings.pop(name) for name in list(settings) if name.startswith("OTEL_")}
    config = GatewaySettings(
        data_dir=tmp_path, gateway_port=free_port(), **(defaults | settings | exporter)
    )
    path = write_caddyfile(config)
    log = tmp_path / f"caddy-{config.gateway_port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [caddy_binary(), "run", "--adapter", "caddyfile", "--config", str(path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")} | exporter,
        )
    scheme = "https" if config.gateway_tls == "internal" else "http"
    url = f"{scheme}://127.0.0.1:{config.gateway_port}"
    try:

        async def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                # the local TLS mode's certificate is Caddy's own authority's
                async with httpx.AsyncClient(verify=False) as client:  # noqa: S501
                    return (await client.get(url + "/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await poll(up, timeout=15, interval=0.05, what="Caddy to answer")
        yield Gateway(url, log, config)
    finally:
        process.terminate()
        process.wait(timeout=15)
