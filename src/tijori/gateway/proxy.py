"""Routes ``/api/*`` to the service that owns it.

This is the busiest code of the gateway: every API call passes through it. It is plain
ASGI with an aiohttp client rather than a FastAPI route with httpx, because on this
path the framework and the client were nearly all of the gateway's CPU: about 3 ms per
request against 0.25 ms now (``docs/performance.md``). It keeps what the framework gave
the other routes: a correlation id, a span of the request's trace, a log line, metrics,
and problem+json for every failure of its own.
"""

from __future__ import annotations

import logging
import time

import aiohttp
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from tijori.common.errors import problem_response
from tijori.common.tracing import (
    TRACEPARENT,
    current_traceparent,
    echoing_request_id,
    request_id_of,
    start_span,
    within,
)

log = logging.getLogger(__name__)

# nginx's status for a request the client abandoned; never seen by that client
CLIENT_CLOSED_REQUEST = 499

# the most a request body may be: the API takes small JSON documents
MAX_BODY_BYTES = 1024 * 1024

# an answer this small is read whole and sent in one piece; a larger one is streamed
WHOLE_ANSWER_BYTES = 64 * 1024

# path prefix -> service; the first match wins
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/auth", "users"),
    ("/api/users", "users"),
    ("/api/wallets", "wallets"),
    ("/api/transactions", "transactions"),
    ("/api/notifications", "notifications"),
)

# RFC 9110 hop-by-hop headers, never forwarded, and those the gateway sets itself
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
REPLACED = HOP_BY_HOP | {b"x-request-id", TRACEPARENT.encode(), b"x-forwarded-for"}
# the gateway's own server writes these on every answer: not sent twice
ANSWER_HEADERS_OF_OUR_OWN = HOP_BY_HOP | {b"date", b"server"}

REQUESTS = Counter(
    "tijori_gateway_requests_total",
    "API requests the gateway forwarded, by service and answer",
    ["service", "status"],
)
REQUEST_SECONDS = Histogram(
    "tijori_gateway_request_seconds",
    "Time from a request's arrival at the gateway to its service's answer",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class ClientGoneError(Exception):
    """The client closed the connection before its request was all read."""


def route(path: str) -> str | None:
    """The service that serves ``path``, or None."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def client_session(*, timeout_seconds: float, keep_alive_seconds: float) -> aiohttp.ClientSession:
    """The gateway's connection pool to the services: it adds no headers, decodes
    nothing, keeps no cookies and follows no redirects of its own."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=keep_alive_seconds),
        timeout=aiohttp.ClientTimeout(total=timeout_seconds, connect=2.0),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
    )


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    session: aiohttp.ClientSession,
    service: str,
    base_url: str,
) -> None:
    """Answer the request of ``scope`` with ``service``'s answer to it."""
    incoming = dict(scope["headers"])
    request_id = request_id_of(incoming)
    traceparent = incoming.get(TRACEPARENT.encode(), b"").decode("latin-1") or None
    method: str = scope["method"]
    span = start_span(
        f"{method} {service}",
        traceparent=traceparent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": scope["path"]},
    )
    started = time.perf_counter()
    status = CLIENT_CLOSED_REQUEST
    try:
        with within(span, correlation_id=request_id):
            headers = _forwarded_headers(scope, incoming, request_id)  # in the span: its trace
            status = await _exchange(
                scope, receive, echoing_request_id(send, request_id), session=session,
                service=service, base_url=base_url, headers=headers,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            log.info(
                "%s %s -> %s %d in %.0f ms", method, scope["path"], service, status, elapsed * 1000
            )
    finally:
        span.set_attribute("http.response.status_code", status)
        span.end()
        REQUESTS.labels(service=service, status=str(status)).inc()
        REQUEST_SECONDS.labels(service=service).observe(time.perf_counter() - started)


async def _exchange(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    session: aiohttp.ClientSession,
    service: str,
    base_url: str,
    headers: list[tuple[str, str]],
) -> int:
    """Forward the request with ``headers``, relay the answer; the status the client was
    given."""
    try:
        body = await _read_body(receive)
    except ClientGoneError:
        log.info("%s %s: the client went away", scope["method"], scope["path"])
        return CLIENT_CLOSED_REQUEST
    if body is None:
        return await _problem(
            scope, receive, send, 413, "payload_too_large",
            f"a request body is at most {MAX_BODY_BYTES // 1024} KiB",
        )  # fmt: skip
    try:
        # the path exactly as the client encoded it, never a decoded copy
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        url = URL(base_url + raw_path + (f"?{query}" if query else ""), encoded=True)
    except ValueError:
        return await _problem(scope, receive, send, 400, "invalid_url", "the URL is not valid")
    try:
        async with session.request(
            scope["method"],
            url,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as answer:
            answer_headers = [
                (name.lower(), value)
                for name, value in answer.raw_headers
                if name.lower() not in ANSWER_HEADERS_OF_OUR_OWN
            ]
            start = {"type": "http.response.start", "status": answer.status}
            if answer.content_length is not None and answer.content_length <= WHOLE_ANSWER_BYTES:
                content = await answer.read()
                answer_headers.append((b"content-length", str(len(content)).encode()))
                await send({**start, "headers": answer_headers})
                await send({"type": "http.response.body", "body": content})
                return answer.status
            await send({**start, "headers": answer_headers})
            async for chunk in answer.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return answer.status
    except aiohttp.InvalidURL:
        return await _problem(scope, receive, send, 400, "invalid_url", "the URL is not valid")
    except aiohttp.ClientConnectorError:
        log.warning("%s is not reachable at %s", service, base_url)
        return await _problem(
            scope, receive, send, 503, "service_unavailable",
            f"the {service} service is not available; try again shortly",
            headers={"Retry-After": "5"},
        )  # fmt: skip
    except TimeoutError:
        return await _problem(
            scope, receive, send, 504, "upstream_timeout",
            f"the {service} service did not answer in time",
        )  # fmt: skip
    except aiohttp.ClientError as error:
        log.warning("%s failed: %r", service, error)
        return await _problem(
            scope, receive, send, 502, "bad_gateway",
            f"the {service} service gave no valid answer",
        )  # fmt: skip


async def _read_body(receive: Receive) -> bytes | None:
    """The request's body; None when it is larger than the gateway takes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _forwarded_headers(
    scope: Scope, incoming: dict[bytes, bytes], request_id: str
) -> list[tuple[str, str]]:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in scope["headers"]
        if name not in REPLACED
    ]
    # the service continues this request's trace and logs under its correlation id
    headers.append(("x-request-id", request_id))
    traceparent = current_traceparent()
    if traceparent is not None:
        headers.append((TRACEPARENT, traceparent))
    client_host = scope["client"][0] if scope.get("client") else "unknown"
    forwarded_for = incoming.get(b"x-forwarded-for", b"").decode("latin-1")
    headers.append(
        ("x-forwarded-for", f"{forwarded_for}, {client_host}" if forwarded_for else client_host)
    )
    return headers


async def _problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
) -> int:
    await problem_response(status, code, detail, headers=headers)(scope, receive, send)
    return status
