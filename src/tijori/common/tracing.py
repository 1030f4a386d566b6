"""Traces and correlation ids: a transfer is one trace, from the HTTP request through
every event it causes to the e-mail, and every log line says which trace it is part of.

Spans are made with OpenTelemetry. HTTP carries the W3C ``traceparent`` header (the
gateway starts the trace when the browser sends none); an event carries it in its
envelope and in the Kafka message headers, because the outbox sends it after the
request is over. Spans are recorded and exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; trace ids reach the logs either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRACEPARENT = "traceparent"
REQUEST_ID_HEADER = "X-Request-ID"
MAX_CORRELATION_ID = 100

# probes and scrapes: no span (they would drown the traces that matter)
UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})

correlation_id_var: ContextVar[str | None] = ContextVar("tijori_correlation_id", default=None)
"""The correlation id of the request or event being handled (its ``X-Request-ID``)."""

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("tijori")


def configure_tracing(service: str) -> None:
    """Give this process a tracer provider named after ``service`` (once per process).

    Without an exporter nothing would read the spans, so they are not recorded (no
    attributes, timings or status): each still has its trace and span ids, so log lines
    and the ``traceparent`` handed on are as they would be (with the sampled flag off).
    An unrecorded span costs a fraction of a recorded one (docs/performance.md). With an
    exporter every span is recorded, whatever its parent's flag says.
    """
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    exporting = bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"tijori-{service}"}),
        sampler=ALWAYS_ON if exporting else ALWAYS_OFF,
    )
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, to hand on to the next hop."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def start_span(
    name: str,
    *,
    traceparent: str | None,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """Start (not enter) a span continuing ``traceparent``, or a new trace without one;
    the caller ends it."""
    parent = _propagator.extract({TRACEPARENT: traceparent}) if traceparent else None
    return tracer.start_span(name, context=parent, kind=kind, attributes=attributes)


@contextlib.contextmanager
def within(span: Span, *, correlation_id: str | None) -> Iterator[Span]:
    """Make ``span`` current and ``correlation_id`` the correlation id for the block
    (the span stays open)."""
    token = correlation_id_var.set(correlation_id)
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=True):
            yield span
    finally:
        correlation_id_var.reset(token)


@contextlib.contextmanager
def continue_trace(
    name: str,
    *,
    traceparent: str | None,
    correlation_id: str | None,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """Run the block in a span that continues ``traceparent`` (a new trace without one),
    with ``correlation_id`` as the correlation id of everything it logs or emits."""
    span = start_span(name, traceparent=traceparent, kind=kind, attributes=attributes)
    try:
        with within(span, correlation_id=correlation_id):
            yield span
    finally:
        span.end()


class LogContextFilter(logging.Filter):
    """Stamps every log record with the correlation id and the trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        record.span_id = format(context.span_id, "016x") if context.is_valid else "-"
        record.correlation_id = correlation_id_var.get() or "-"
        return True


def request_id_of(headers: Mapping[bytes, bytes]) -> str:
    """The correlation id of an HTTP request with these (ASGI) headers: its
    ``X-Request-ID``, or a new one."""
    sent = headers.get(b"x-request-id", b"").decode("latin-1")
    return (sent or str(uuid.uuid4()))[:MAX_CORRELATION_ID]


def echoing_request_id(send: Send, request_id: str) -> Send:
    """``send`` that gives the answer ``request_id`` as its (only) ``X-Request-ID``."""
    echoed = (REQUEST_ID_HEADER.lower().encode(), request_id.encode("latin-1"))

    async def send_with_request_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", []) if h[0].lower() != echoed[0]]
            message["headers"] = [*headers, echoed]
        await send(message)

    return send_with_request_id


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry, as Tijori uses it: a ``SERVER`` span per request,
    named after its route and continuing the caller's ``traceparent``; nothing else
    (no spans for dependencies and serialization, no OpenTelemetry metrics or logs:
    Prometheus and the log lines cover those), and no spans for probes and scrapes."""
    return {
        "operation_spans": False,
        "metrics": False,
        "logs": False,
        "exclude": lambda scope: scope.get("path") in UNTRACED_PATHS,
    }


class RequestContextMiddleware:
    """Gives every HTTP request its correlation id: the client's ``X-Request-ID`` (the
    gateway forwards its own) or a new one, in ``request.state.correlation_id``, in the
    context of everything the request logs, and echoed in the response.

    Plain ASGI rather than ``@app.middleware("http")``, which costs a task per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(dict(scope["headers"]))
        scope.setdefault("state", {})["correlation_id"] = request_id
        token = correlation_id_var.set(request_id)
        try:
            await self.app(scope, receive, echoing_request_id(send, request_id))
        finally:
            correlation_id_var.reset(token)


def install_request_context(app: FastAPI) -> None:
    """Give every request a correlation id (:class:`RequestContextMiddleware`); its span
    is FastAPI's own (:func:`fastapi_telemetry`)."""
    app.add_middleware(RequestContextMiddleware)
