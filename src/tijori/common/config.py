"""Configuration from ``TIJORI_*`` environment variables; unset means the embedded default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Services keep an idle connection open this long: longer than the gateway keeps one in
# its pool (tijori.gateway.caddy), so the gateway never sends a request on a connection
# the service is closing under it.
UPSTREAM_KEEP_ALIVE_SECONDS = 75


class CommonSettings(BaseSettings):
    """What every service reads; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="TIJORI_", extra="ignore")

    service_name: str = "tijori"
    data_dir: Path = Path(".tijori")
    kafka_bootstrap: str | None = None
    # every topic and consumer group name starts with this, so test runs stay apart
    kafka_topic_prefix: str = ""
    # how long a consumer may go unheard before its group gives its partitions to
    # another (Kafka's session.timeout.ms; it heartbeats five times as often): how
    # long a killed process's partitions wait before a restarted or second one takes
    # them. Kafka accepts 6000 at least (group.min.session.timeout.ms).
    kafka_session_timeout_ms: int = Field(15000, ge=6000, le=300000)
    redis_url: str | None = None
    jwt_private_key: SecretStr | None = None
    jwt_public_key: str | None = None
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")
    # "all": HTTP and every background loop; "api": HTTP and the outbox relay only;
    # "worker": the consumers and loops (and /health, /ready, /metrics), for a second
    # process of the same service that settles while the first one answers requests
    role: str = Field("all", pattern="^(all|api|worker)$")
    # how much lower than normal this process's CPU priority is (0-19, as nice(1)): under
    # load, a process that settles in the background yields to the ones answering
    # requests, and applies bigger batches when it runs
    nice: int = Field(0, ge=0, le=19)
    # whose X-Forwarded-For is believed (addresses or networks, comma-separated; "*":
    # anyone, only where nothing but the gateway can reach the services, as in compose):
    # by default the gateway's own address on this machine. From anyone else the
    # connecting address is the client's (the log-in limit per address counts it).
    trusted_proxies: str = "127.0.0.1"
    outbox_poll_seconds: float = 0.5
    # on start, publish again what was published this recently (for a broker that forgets)
    outbox_replay_seconds: float = 0
    # outbox rows published longer ago than this are deleted (0: kept forever); never
    # fewer than outbox_replay_seconds
    outbox_retention_seconds: float = Field(7 * 24 * 3600, ge=0)

    def sqlite_url(self, service: str) -> str:
        """The embedded default database of ``service``: a SQLite file under the data dir."""
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
