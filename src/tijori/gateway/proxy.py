"""Routes ``/api/*`` to the service that owns it, streaming both ways."""

from __future__ import annotations

import logging
import time

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from tijori.common.errors import problem_response
from tijori.common.tracing import TRACEPARENT, current_traceparent

log = logging.getLogger(__name__)

# nginx's status for a request the client abandoned; never seen by that client
CLIENT_CLOSED_REQUEST = 499

# path prefix -> service; the first match wins
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/auth", "users"),
    ("/api/users", "users"),
    ("/api/wallets", "wallets"),
    ("/api/transactions", "transactions"),
    ("/api/notifications", "notifications"),
)

# RFC 9110 hop-by-hop headers, never forwarded
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def route(path: str) -> str | None:
    """The service that serves ``path``, or None."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


async def forward(
    request: Request, *, client: httpx.AsyncClient, service: str, base_url: str
) -> Response:
    """Send ``request`` to ``service`` and stream its answer back."""
    replaced = HOP_BY_HOP | {"x-request-id", TRACEPARENT}
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in replaced]
    # the service continues this request's trace and logs under its correlation id
    headers.append(("x-request-id", request.state.correlation_id))
    traceparent = current_traceparent()
    if traceparent is not None:
        headers.append((TRACEPARENT, traceparent))
    client_host = request.client.host if request.client else "unknown"
    forwarded_for = request.headers.get("x-forwarded-for")
    headers.append(
        ("x-forwarded-for", f"{forwarded_for}, {client_host}" if forwarded_for else client_host)
    )
    # forward the path exactly as the client encoded it, never a decoded copy
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = f"?{request.url.query}" if request.url.query else ""
    try:
        upstream = client.build_request(
            request.method,
            base_url + raw_path.decode("latin-1") + query,
            headers=headers,
            content=request.stream(),
        )
    except httpx.InvalidURL:
        return problem_response(400, "invalid_url", "the request URL is not valid")
    started = time.perf_counter()
    try:
        answer = await client.send(upstream, stream=True)
    except ClientDisconnect:
        # the client gave up while its body was being forwarded: nobody to answer
        log.info("%s %s: the client went away", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    except httpx.ConnectError:
        log.warning("%s is not reachable at %s", service, base_url)
        return problem_response(
            503,
            "service_unavailable",
            f"the {service} service is not available; try again shortly",
            headers={"Retry-After": "5"},
        )
    except httpx.TimeoutException:
        return problem_response(
            504, "upstream_timeout", f"the {service} service did not answer in time"
        )
    except httpx.HTTPError as error:
        log.warning("%s failed: %r", service, error)
        return problem_response(502, "bad_gateway", f"the {service} service gave no valid answer")
    log.info(
        "%s %s -> %s %d in %.0f ms",
        request.method,
        request.url.path,
        service,
        answer.status_code,
        (time.perf_counter() - started) * 1000,
    )
    response_headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP]
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=dict(response_headers),
        background=BackgroundTask(answer.aclose),
    )
