"""Settings of the gateway."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tijori.common.config import CommonSettings

# src/tijori/gateway/config.py -> the repository's web/ folder
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[3] / "web"

# The gateway drops a pooled connection after this long idle; services keep one open
# longer, so the gateway never sends a request on a connection being closed under it.
GATEWAY_KEEP_ALIVE_SECONDS = 20.0
UPSTREAM_KEEP_ALIVE_SECONDS = 75


class GatewaySettings(CommonSettings):
    """``TIJORI_*`` variables the gateway reads."""

    service_name: str = "gateway"
    gateway_port: int = 8080
    users_url: str = "http://127.0.0.1:8081"
    wallets_url: str = "http://127.0.0.1:8082"
    transactions_url: str = "http://127.0.0.1:8083"
    notifications_url: str = "http://127.0.0.1:8084"
    upstream_timeout_seconds: float = Field(30.0, gt=0)
    web_dir: Path = DEFAULT_WEB_DIR
    # set by `tijori up` when it runs the local SMTP server: the web client may read it
    dev_maildir: Path | None = None

    def upstreams(self) -> dict[str, str]:
        """Each service's base URL by name."""
        return {
            "users": self.users_url,
            "wallets": self.wallets_url,
            "transactions": self.transactions_url,
            "notifications": self.notifications_url,
        }
