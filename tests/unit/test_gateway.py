"""The gateway, a real Caddy configured by Tijori: routing, request ids, problems of its
own, limits and headers at the edge, the web client, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.types import Receive, Scope, Send

from tests.conftest import poll
from tests.unit.gateway import Echo, Gateway, free_port, gateway, serving
from tijori.common.errors import PROBLEM_CODES
from tijori.gateway.caddy import (
    DEV_MAILBOX_PATH,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    PROBLEMS,
    READ_BODY_SECONDS,
    caddy_binary,
    caddy_environment,
    render_caddyfile,
)
from tijori.gateway.config import DEFAULT_WEB_DIR, GatewaySettings

ECHOED = ("users", "wallets", "transactions", "aggregator")  # notifications is down


@dataclass
class Edge:
    """The gateway in front of stand-ins for every service but notifications."""

    gateway: Gateway
    echoes: dict[str, Echo]


@pytest.fixture(scope="module")
async def edge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    echoes = {name: Echo(name) for name in ECHOED}
    async with contextlib.AsyncExitStack() as stack:
        urls = {
            f"{name}_url": await stack.enter_async_context(serving(echo))
            for name, echo in echoes.items()
        }
        tmp_path = tmp_path_factory.mktemp("gateway")
        running = await stack.enter_async_context(
            gateway(tmp_path, dev_maildir=tmp_path / "mail", upstream_timeout_seconds=1, **urls)
        )
        yield Edge(running, echoes)


@pytest.fixture
async def client(edge: Edge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as made:
        yield made


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/users", "users"),
        ("/api/users/me", "users"),
        ("/api/auth/token", "users"),
        ("/api/auth/refresh", "users"),
        ("/api/sessions", "users"),
        ("/api/sessions/3f0c2b9e-8a41-4d6f-9b7a-2e5d1c4a6f10", "users"),
        ("/api/wallets/me/entries", "wallets"),
        ("/api/transactions", "transactions"),
        ("/api/transactions/abc/receipt", "transactions"),
        ("/ready", "aggregator"),
        ("/docs", "aggregator"),
        ("/openapi.json", "aggregator"),
        (DEV_MAILBOX_PATH, "aggregator"),
    ],
)
async def test_paths_route_to_their_service(
    client: httpx.AsyncClient, path: str, service: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.json()["service"] == service


@pytest.mark.parametrize(
    "path", ["/api/usersx", "/api/authority", "/api/sessionsx", "/api/", "/api/nothing"]
)
async def test_unknown_api_paths_are_404_problems(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_service_that_is_down_is_a_503_problem(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/notifications", headers={"X-Request-ID": "down-1"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["status"], problem["code"]) == (503, "service_unavailable")
    assert problem["correlation_id"] == "down-1"
    assert answer.headers["retry-after"] == "5"


async def test_a_service_that_does_not_answer_in_time_is_a_504_problem(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/users/slow", headers={"X-Request-ID": "slow-1"})
    assert (answer.status_code, answer.json()["code"]) == (504, "upstream_timeout")
    assert answer.json()["correlation_id"] == "slow-1"
    assert answer.headers["x-request-id"] == "slow-1"


async def test_a_service_that_hangs_up_without_answering_is_a_502_problem(
    tmp_path: Path,
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()  # the request line, then nothing back
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            gateway(tmp_path, users_url=f"http://127.0.0.1:{port}") as running,
            httpx.AsyncClient(base_url=running.url) as client,
        ):
            answer = await client.post("/api/users", json={})
            mailbox = await client.get(DEV_MAILBOX_PATH)
    finally:
        server.close()
        await server.wait_closed()
    assert (answer.status_code, answer.json()["code"]) == (502, "bad_gateway")
    # no development mailbox where tijori up runs no mail server
    assert (mailbox.status_code, mailbox.json()["code"]) == (404, "not_found")


async def test_the_service_gets_the_request_and_the_client_its_answer(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    answer = await client.post(
        "/api/users?x=1",
        json={"name": "Asha"},
        headers={"X-Request-ID": "req-1", "Authorization": "Bearer t"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"service": "users", "path": "/api/users", "length": 15}
    assert answer.headers["x-request-id"] == "req-1"
    assert answer.headers["set-cookie"] == "a=1"
    assert "server" not in answer.headers
    assert "via" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    seen = edge.echoes["users"].seen[-1]
    assert (seen.method, seen.body) == ("POST", b'{"name":"Asha"}')
    assert seen.headers["x-request-id"] == "req-1"
    assert seen.headers["authorization"] == "Bearer t"


async def test_a_request_without_an_id_gets_one_that_the_service_and_the_client_see(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    answer = await client.get("/api/wallets/me")
    given = answer.headers["x-request-id"]
    assert len(given) == 36  # a UUID
    assert edge.echoes["wallets"].seen[-1].headers["x-request-id"] == given
    forged = await client.get("/api/wallets/me", headers={"X-Request-ID": 'a"b<script>'})
    assert edge.echoes["wallets"].seen[-1].headers["x-request-id"] != 'a"b<script>'
    assert len(forged.headers["x-request-id"]) == 36


async def test_a_forged_x_forwarded_for_is_replaced_by_the_clients_address(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    await client.get("/api/auth/token", headers={"X-Forwarded-For": "203.0.113.9"})
    assert edge.echoes["users"].seen[-1].headers["x-forwarded-for"] == "127.0.0.1"


async def test_a_path_with_encoded_control_characters_is_forwarded_as_it_came(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    answer = await client.get("/api/users/%03%24")
    assert answer.status_code == 200
    assert edge.echoes["users"].seen[-1].raw_path == "/api/users/%03%24"


async def test_a_body_over_a_mebibyte_is_a_413_problem(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    fits = await client.post("/api/users", content=b"x" * MAX_BODY_BYTES)
    assert (fits.status_code, fits.json()["length"]) == (200, MAX_BODY_BYTES)
    answer = await client.post("/api/users", content=b"x" * (MAX_BODY_BYTES + 1))
    assert (answer.status_code, answer.json()["code"]) == (413, "payload_too_large")


def _status_of_raw_request(url: str, head: bytes) -> bytes:
    """The status line the gateway answers ``head`` with, read even when the gateway
    stopped reading early (a client of its own: httpx's async one reports a reset)."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with contextlib.suppress(OSError):
            raw.sendall(head)
        return raw.recv(1024).split(b"\r\n", 1)[0]


async def test_headers_over_16_kib_are_refused_with_431(edge: Edge) -> None:
    async with httpx.AsyncClient(base_url=edge.gateway.url) as client:
        fits = await client.get("/api/users", headers={"X-Big": "a" * (8 * 1024)})
        assert fits.status_code == 200
    for size in (MAX_HEADER_BYTES, 16 * 1024 * 1024):
        head = b"GET /api/users HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
        status = await asyncio.to_thread(_status_of_raw_request, edge.gateway.url, head)
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large", size
    # a kept-alive connection is allowed 4 KiB more, and is closed (or answered 431)
    async with httpx.AsyncClient(base_url=edge.gateway.url) as client:
        assert (await client.get("/health")).status_code == 200
        try:
            refused = await client.get("/health", headers={"X-Big": "a" * MAX_HEADER_BYTES})
            assert refused.status_code == 431
        except httpx.TransportError:
            pass


def test_a_client_sending_its_headers_a_byte_a_second_is_cut_off(edge: Edge) -> None:
    port = int(edge.gateway.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
        with contextlib.suppress(OSError):
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60:
                slow.sendall(bytes([byte]))
                time.sleep(1)
                if time.monotonic() - started > 20:
                    break
        slow.settimeout(2)
        with contextlib.suppress(OSError):
            while slow.recv(1024):
                pass
    assert time.monotonic() - started < 10  # cut off after 5 s, not allowed on for a minute


async def test_every_answer_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/", "/app.js", "/api/users/me", "/api/nothing", "/api/notifications"):
        answer = await client.get(path)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert "camera=()" in answer.headers["permissions-policy"], path
        assert "server" not in answer.headers, path
        assert "strict-transport-security" not in answer.headers, path  # no TLS here


async def test_the_web_client_is_served_compressed_with_etags_and_revalidated(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    script = (DEFAULT_WEB_DIR / "app.js").read_bytes()
    gzipped = await client.get("/app.js", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.headers["content-type"].startswith("text/javascript")
    assert gzipped.content == script  # as httpx decoded it
    # on the wire (Caddy streams a larger file chunked, without a Content-Length)
    assert gzipped.num_bytes_downloaded < len(script) / 2
    assert gzipped.headers["cache-control"] == "no-cache"
    zstd = await client.get("/app.js", headers={"Accept-Encoding": "zstd"})
    assert zstd.headers["content-encoding"] == "zstd"
    plain = await client.get("/app.js", headers={"Accept-Encoding": "identity"})
    assert plain.content == script
    etag = plain.headers["etag"]
    again = await client.get(
        "/app.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag}
    )
    assert again.status_code == 304
    missing = await client.get("/no-such-file.js")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_the_gateway_answers_its_own_health(client: httpx.AsyncClient) -> None:
    answer = await client.get("/health")
    assert answer.json() == {"status": "ok", "service": "gateway"}


async def test_the_access_log_is_json_with_the_request_id(
    client: httpx.AsyncClient, edge: Edge
) -> None:
    await client.get("/api/wallets/me", headers={"X-Request-ID": "logged-1"})

    async def logged() -> list[object]:
        return [e for e in edge.gateway.access_log() if e.get("request_id") == "logged-1"]

    from tests.conftest import poll

    [entry] = await poll(logged, timeout=5, what="the access log line")
    assert entry["request"]["uri"] == "/api/wallets/me"  # type: ignore[index]
    assert entry["status"] == 200  # type: ignore[index]


async def test_replicas_share_requests_and_a_dead_one_loses_none(tmp_path: Path) -> None:
    first, second = Echo("transactions"), Echo("transactions")
    async with contextlib.AsyncExitStack() as stack:
        one = await stack.enter_async_context(serving(first))
        two = await stack.enter_async_context(serving(second))
        dead = f"http://127.0.0.1:{free_port()}"
        running = await stack.enter_async_context(
            gateway(tmp_path, transactions_url=f"{one},{two},{dead}", gateway_retry_seconds=2)
        )
        async with httpx.AsyncClient(base_url=running.url) as client:
            answers = [await client.post("/api/transactions", json={"n": n}) for n in range(30)]
    assert [answer.status_code for answer in answers] == [200] * 30
    posted = [[seen for seen in echo.seen if seen.method == "POST"] for echo in (first, second)]
    assert posted[0] and posted[1]
    assert len(posted[0]) + len(posted[1]) == 30  # none delivered twice


@dataclass
class Gathering:
    """A stand-in service that answers a burst of ``size`` requests only once all of
    them are in flight at once, and notes the connection (the gateway's port) each came on."""

    size: int
    ports: list[int] = field(default_factory=list)
    bursts: dict[int, asyncio.Event] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        self.ports.append(scope["client"][1])
        burst = self.bursts.setdefault((len(self.ports) - 1) // self.size, asyncio.Event())
        if len(self.ports) % self.size == 0:
            burst.set()
        await asyncio.wait_for(burst.wait(), timeout=10)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_a_burst_past_32_requests_reuses_the_gateways_connections(tmp_path: Path) -> None:
    # Caddy keeps 32 idle connections per service unless told: past them, each burst
    # closed the rest as their answers came back and opened them again
    burst = 100
    service = Gathering(burst)
    async with contextlib.AsyncExitStack() as stack:
        # the connection's own port, not X-Forwarded-For's
        url = await stack.enter_async_context(serving(service, proxy_headers=False))
        running = await stack.enter_async_context(gateway(tmp_path, transactions_url=url))
        limits = httpx.Limits(max_connections=burst, max_keepalive_connections=burst)
        async with httpx.AsyncClient(base_url=running.url, limits=limits, timeout=30) as client:
            for _ in range(2):
                answers = await asyncio.gather(
                    *(client.get("/api/transactions") for _ in range(burst))
                )
                assert [answer.status_code for answer in answers] == [200] * burst
    first, second = set(service.ports[:burst]), set(service.ports[burst:])
    assert len(first) == len(second) == burst  # each burst was in flight at once
    assert len(second - first) <= 2, f"{len(second - first)} new connections for the second burst"


def test_every_problem_the_gateway_answers_is_a_documented_code() -> None:
    assert {code for code, _ in PROBLEMS.values()} <= set(PROBLEM_CODES)


def test_the_admin_endpoint_is_off(tmp_path: Path) -> None:
    adapted = _adapt(GatewaySettings(data_dir=tmp_path), tmp_path)
    assert adapted["admin"]["disabled"] is True


def test_the_mailbox_is_routed_only_where_there_is_one(tmp_path: Path) -> None:
    assert DEV_MAILBOX_PATH not in render_caddyfile(GatewaySettings())
    assert DEV_MAILBOX_PATH in render_caddyfile(GatewaySettings(dev_maildir=tmp_path))


@pytest.mark.parametrize(
    "tls", [{"gateway_tls": "internal"}, {"gateway_tls": "auto", "gateway_domain": "pay.example"}]
)
def test_with_tls_the_configuration_is_valid_and_sends_hsts(
    tmp_path: Path, tls: dict[str, str]
) -> None:
    settings = GatewaySettings(data_dir=tmp_path, **tls)
    assert "Strict-Transport-Security" in json.dumps(_adapt(settings, tmp_path))


def test_upstreams_by_dns_balance_every_address_a_service_name_has(tmp_path: Path) -> None:
    """Compose's mode: ``transactions`` stands for each of its containers."""
    settings = GatewaySettings(
        data_dir=tmp_path,
        transactions_url="http://transactions:8083",
        gateway_upstreams_by_dns=True,
    )
    handlers = [
        handler
        for handler in _handlers(_adapt(settings, tmp_path))
        if handler.get("handler") == "reverse_proxy"
    ]
    assert {str(handler["dynamic_upstreams"]["name"]) for handler in handlers} >= {
        "transactions",
        "127.0.0.1",
    }
    for handler in handlers:
        assert handler["dynamic_upstreams"]["source"] == "a"
        assert "upstreams" not in handler
        assert handler["health_checks"]["passive"]["max_fails"] == 1
    with pytest.raises(ValueError, match="one URL"):
        render_caddyfile(settings.model_copy(update={"wallets_url": "http://a:1,http://b:1"}))


async def test_with_an_exporter_the_gateway_starts_each_api_trace_and_exports_its_span(
    tmp_path: Path,
) -> None:
    collector, users = Echo("collector"), Echo("users")
    async with (
        serving(collector) as collector_url,
        serving(users) as users_url,
        gateway(
            tmp_path,
            users_url=users_url,
            OTEL_EXPORTER_OTLP_ENDPOINT=collector_url,
            OTEL_BSP_SCHEDULE_DELAY="100",
        ) as running,
        httpx.AsyncClient(base_url=running.url) as client,
    ):
        assert (await client.get("/api/users/me")).status_code == 200
        assert (await client.get("/")).status_code == 200  # a page: no span

        async def exported() -> bool:
            return any(seen.raw_path == "/v1/traces" for seen in collector.seen)

        await poll(exported, timeout=15, what="Caddy to export its span")
    (traceparent,) = [seen.headers["traceparent"] for seen in users.seen]
    trace_id, parent_span_id = traceparent.split("-")[1:3]
    spans = []
    for seen in collector.seen:
        request = ExportTraceServiceRequest.FromString(seen.body)
        spans += [
            span
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
    (span,) = spans
    assert span.name == "gateway"
    # the service's request continues the gateway's span: one trace from the edge on
    assert (span.trace_id.hex(), span.span_id.hex()) == (trace_id, parent_span_id)
    assert "tracing" not in render_caddyfile(GatewaySettings())  # no exporter, no span


def _handlers(node: object) -> list[dict[str, Any]]:
    """Every handler of an adapted configuration, however deep in routes and subroutes."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "handler" in node:
            found.append(node)
        for value in node.values():
            found += _handlers(value)
    elif isinstance(node, list):
        for value in node:
            found += _handlers(value)
    return found


def _adapt(settings: GatewaySettings, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "Caddyfile"
    path.write_text(render_caddyfile(settings))
    adapted = subprocess.run(
        [caddy_binary(), "adapt", "--adapter", "caddyfile", "--config", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    document: dict[str, object] = json.loads(adapted.stdout)
    return document


async def test_the_gateways_own_metrics_are_on_loopback_beside_it(tmp_path: Path) -> None:
    port = free_port()
    async with (
        gateway(tmp_path, gateway_metrics_port=port) as running,
        httpx.AsyncClient() as client,
    ):
        await client.get(running.url + "/api/users")
        metrics = await client.get(f"http://127.0.0.1:{port}/metrics")
        public = await client.get(running.url + "/metrics")
    assert metrics.status_code == 200
    assert "caddy_http_requests_total" in metrics.text
    assert public.status_code == 404  # not on the public port


async def test_the_local_tls_mode_serves_https_on_loopback_with_hsts(tmp_path: Path) -> None:
    async with (
        gateway(tmp_path, gateway_tls="internal") as running,
        httpx.AsyncClient(base_url=running.url, verify=False) as client,  # noqa: S501
    ):
        page = await client.get("/")
    assert running.url.startswith("https://")
    assert page.status_code == 200
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_a_client_sending_its_body_a_byte_a_second_is_cut_off_from_its_service(
    tmp_path: Path,
) -> None:
    """The service is let go when ``read_body`` ends, with a body it cannot take for a
    whole request. (The client's own connection to Caddy 2.11.7 stays open until it has
    sent what it declared: docs/gateway.md.)"""
    ended: list[tuple[float, bytes]] = []

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started, received = time.monotonic(), b""
        while chunk := await reader.read(1024):
            received += chunk
        ended.append((time.monotonic() - started, received))
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with gateway(tmp_path, users_url=f"http://127.0.0.1:{port}") as running:
            host, gateway_port = running.url.removeprefix("http://").rsplit(":", 1)
            _, slow = await asyncio.open_connection(host, int(gateway_port))
            slow.write(b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n")
            for _ in range(READ_BODY_SECONDS + 3):
                slow.write(b"a")
                await slow.drain()
                await asyncio.sleep(1)
                if ended:
                    break
            slow.close()
    finally:
        server.close()
        await server.wait_closed()
    ((held, received),) = ended
    assert held < READ_BODY_SECONDS + 2  # let go after read_body, not when the client is done
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"content-length: 40" in head.lower()
    assert 0 < len(body) < 40  # never the whole request


def test_caddy_collects_garbage_less_often_unless_the_operator_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    env = caddy_environment(tmp_path)
    assert env["GOGC"] == "400"
    assert env["XDG_DATA_HOME"] == str(tmp_path / "data")
    monkeypatch.setenv("GOGC", "150")
    assert caddy_environment(tmp_path)["GOGC"] == "150"
