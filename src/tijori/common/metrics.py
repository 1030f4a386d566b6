"""What ``/metrics`` shows (Prometheus): HTTP, money, events and e-mail.

HTTP rate, errors and latency by route are ``http_requests_total`` and
``http_request_duration_seconds`` (:class:`HttpMetricsMiddleware`). Counts of things
that happen inside a database transaction are added only when it commits
(:func:`count_after_commit`), so a retried transaction is not counted twice.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tijori.common.db import UnitOfWork

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template, method and status class (2xx, 4xx, 5xx)",
    ["handler", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

SESSIONS_STARTED = Counter(
    "tijori_sessions_started_total", "Log-in sessions started (users service: each log-in)"
)
SESSIONS_ENDED = Counter(
    "tijori_sessions_ended_total",
    "Log-in sessions ended, by reason: logout, ended, logout_everywhere, password_changed, "
    "refresh_token_reused (users service)",
    ["reason"],
)
PIN_CHECKS = Counter(
    "tijori_pin_checks_total",
    "Transaction PINs checked, by outcome: right, wrong, locked (the wrong one that locked "
    "payments), refused (any PIN while locked) (users service)",
    ["outcome"],
)
REFRESH_TOKEN_REUSE = Counter(
    "tijori_refresh_token_reuse_total",
    "Refresh tokens presented again after their rotation: each ended its session (users)",
)
TRANSFERS = Counter(
    "tijori_transfers_total",
    "Transfers by status reached: ACCEPTED, then SUCCESS or FAILED (transactions service)",
    ["status", "reason"],
)
PRECHECK_REFUSALS = Counter(
    "tijori_precheck_refusals_total",
    "Transfers the transactions pre-check refused at once (never stored nor sent to "
    "wallets), by code (wallet_frozen, insufficient_funds, limit_exceeded) and limit "
    "(transactions service)",
    ["code", "limit"],
)
ACCEPT_BATCH_TRANSFERS = Histogram(
    "tijori_accept_batch_transfers",
    "Transfers decided in one database transaction by the transactions API (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)
LEDGER_TRANSFERS = Counter(
    "tijori_ledger_transfers_total",
    "Transfers the wallets service applied (money moved) or rejected",
    ["outcome", "reason"],
)
LEDGER_TOPUPS = Counter(
    "tijori_ledger_topups_total",
    "Captured top-ups the wallets service credited or rejected (then refunded)",
    ["outcome", "reason"],
)
LIMIT_REFUSALS = Counter(
    "tijori_limit_refusals_total",
    "Movements refused over a limit (a KYC tier's, the user's own daily caps, the upgrade "
    "deadline), by limit, tier and kind (wallets service)",
    ["limit", "tier", "kind"],
)
WALLET_FREEZES = Counter(
    "tijori_wallet_freezes_total",
    "Wallets frozen and unfrozen, by action (freeze, unfreeze) and by whom: USER (the "
    "owner) or ADMIN (wallets service)",
    ["action", "by"],
)
KYC_CHECKS = Counter(
    "tijori_kyc_checks_total",
    "KYC checks by outcome: SUBMITTED, FULL, REJECTED (users service)",
    ["outcome"],
)
HOLDS = Counter(
    "tijori_holds_total",
    "Holds by status reached: HELD, REFUSED, POSTED, VOIDED, RETURNED (wallets service)",
    ["status", "reason"],
)
HOLDS_OUTSTANDING = Gauge("tijori_holds_outstanding", "Holds HELD now (wallets service)")
HOLDS_OLDEST_AGE = Gauge(
    "tijori_holds_oldest_age_seconds", "Age of the oldest hold still HELD (0 if none)"
)
TOPUPS = Counter(
    "tijori_topups_total",
    "Top-ups by status reached: CREATED, CAPTURED, CREDITED, FAILED, REFUNDED (payments)",
    ["status"],
)
WITHDRAWALS = Counter(
    "tijori_withdrawals_total",
    "Withdrawals by status reached: REQUESTED ... PROCESSED, FAILED, REVERSED (payments)",
    ["status", "reason"],
)
WEBHOOKS = Counter(
    "tijori_webhooks_total",
    "Gateway webhooks by event and result: applied, duplicate, ignored, invalid_signature",
    ["event", "result"],
)
GATEWAY_CALLS = Counter(
    "tijori_gateway_calls_total",
    "Calls to the payment gateway's API by operation and outcome: ok, refused, unavailable",
    ["operation", "outcome"],
)
EMAILS = Counter(
    "tijori_emails_total",
    "E-mail delivery attempts by kind and outcome: sent, retrying or failed (for good)",
    ["kind", "outcome"],
)
EVENTS_PROCESSED = Counter(
    "tijori_events_processed_total",
    "Events a consumer took from Kafka: applied, duplicate (skipped) or malformed (dropped)",
    ["consumer", "event_type", "result"],
)
EVENT_APPLY_SECONDS = Histogram(
    "tijori_event_apply_seconds",
    "Time to apply one event, database transaction included",
    ["consumer", "event_type"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_LAG = Gauge(
    "tijori_consumer_lag_messages",
    "Messages in a partition not yet consumed by this consumer (high-water mark - position)",
    ["consumer", "topic", "partition"],
)
OUTBOX_BACKLOG = Gauge("tijori_outbox_backlog_events", "Outbox events not yet sent to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "tijori_outbox_oldest_age_seconds", "Age of the oldest outbox event not yet sent (0 if none)"
)
OUTBOX_PUBLISHED = Counter(
    "tijori_outbox_published_total", "Outbox events sent to Kafka", ["event_type"]
)


def count_after_commit(uow: UnitOfWork, counter: Any, amount: float = 1) -> None:
    """Increment ``counter`` (a labelled child) when ``uow``'s transaction commits."""
    uow.after_commit(functools.partial(counter.inc, amount))


# probes and the scrape itself are not counted
UNMEASURED_PATHS = frozenset({"/metrics", "/health", "/ready"})


class HttpMetricsMiddleware:
    """Counts and times every request by its route template (``/api/transactions/{id}``,
    ``none`` when no route matched).

    A few lines of plain ASGI instead of prometheus-fastapi-instrumentator, which matched
    every request against every route again (docs/performance.md).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            handler = getattr(scope.get("route"), "path", "none")
            record_request(handler, scope["method"], status, time.perf_counter() - started)


def record_request(handler: str, method: str, status: int, seconds: float) -> None:
    """Count and time one answered request of the route template ``handler``."""
    HTTP_REQUESTS.labels(handler, method, f"{status // 100}xx").inc()
    HTTP_REQUEST_SECONDS.labels(handler, method).observe(seconds)


def install_http_metrics(app: FastAPI) -> None:
    """Measure ``app``'s requests and serve every metric of the process at ``/metrics``."""
    app.add_middleware(HttpMetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
