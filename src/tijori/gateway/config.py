"""Settings of the gateway: Caddy in front, and the aggregator it routes a few paths to."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from tijori.common.config import CommonSettings

# src/tijori/gateway/config.py -> the repository's web/ folder
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[3] / "web"

SERVICE_NAMES = ("users", "wallets", "transactions", "notifications", "payments")


class GatewaySettings(CommonSettings):
    """``TIJORI_*`` variables the gateway (Caddy's configuration) and the aggregator read.

    A service's URL may name several replicas, separated by commas: the gateway
    balances requests across them.
    """

    service_name: str = "gateway"
    gateway_port: int = 8080
    # where Caddy listens: loopback on one machine, 0.0.0.0 in a container
    gateway_host: str = "127.0.0.1"
    users_url: str = "http://127.0.0.1:8081"
    wallets_url: str = "http://127.0.0.1:8082"
    transactions_url: str = "http://127.0.0.1:8083"
    notifications_url: str = "http://127.0.0.1:8084"
    payments_url: str = "http://127.0.0.1:8087"
    # the merged /docs, the aggregated /ready and the development mailbox
    aggregator_url: str = "http://127.0.0.1:8086"
    # processes that serve no API but must be ready too (consumers), by name
    worker_urls: dict[str, str] = Field(default_factory=dict)
    # the whole wait for a service's answer (headers), from the request's arrival
    upstream_timeout_seconds: float = Field(30.0, gt=0)
    # how long a request that could not be delivered is tried on (another replica)
    gateway_retry_seconds: float = Field(3.0, ge=0)
    web_dir: Path = DEFAULT_WEB_DIR
    # set by `tijori up` when it runs the local SMTP server: the web client may read it
    dev_maildir: Path | None = None
    # "off": plain HTTP; "internal": HTTPS on the gateway's port with a certificate from
    # Caddy's own local authority; "auto": a real domain (TIJORI_GATEWAY_DOMAIN) with
    # certificates from Let's Encrypt or ZeroSSL, on ports 80 and 443
    gateway_tls: str = Field("off", pattern="^(off|internal|auto)$")
    gateway_domain: str | None = None
    # Caddy's own Prometheus metrics, on loopback at this port (none when unset)
    gateway_metrics_port: int | None = None
    # each service URL's host name stands for all of its replicas (compose's DNS for a
    # service with several containers): Caddy looks the name up every few seconds and
    # balances across every address it gets, instead of dialling the first one
    gateway_upstreams_by_dns: bool = False
    # where spans go (OpenTelemetry's own variables, as for the services): when one is set,
    # Caddy starts each API request's trace with a span of its own and exports it there
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )

    def upstreams(self) -> dict[str, list[str]]:
        """Each service's base URLs (one per replica) by name."""
        urls = {
            "users": self.users_url,
            "wallets": self.wallets_url,
            "transactions": self.transactions_url,
            "notifications": self.notifications_url,
            "payments": self.payments_url,
        }
        return {
            name: [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
            for name, value in urls.items()
        }

    def ready_targets(self) -> dict[str, str]:
        """Every process whose ``/ready`` counts for the whole system's, by a name for it."""
        targets: dict[str, str] = {}
        for name, urls in self.upstreams().items():
            for number, url in enumerate(urls, start=1):
                targets[name if len(urls) == 1 else f"{name}-{number}"] = url
        return targets | self.worker_urls
