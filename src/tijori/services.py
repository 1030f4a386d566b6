"""The processes Tijori runs: each service's app factory, settings and default port.

Only the command line and the supervisor use this table; services never import it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from tijori.common.config import CommonSettings


@dataclass(frozen=True)
class ServiceInfo:
    """How to build and where to run one service."""

    name: str
    module: str
    settings_class: str
    port: int
    has_database: bool = True

    def settings(self) -> Any:
        """The service's settings, read from the environment now."""
        module_name, _, class_name = self.settings_class.rpartition(".")
        settings_type: type[CommonSettings] = getattr(
            importlib.import_module(module_name), class_name
        )
        return settings_type()

    def app_factory(self) -> Callable[..., FastAPI]:
        """The service's ``create_app``."""
        factory: Callable[..., FastAPI] = importlib.import_module(self.module).create_app
        return factory


SERVICES: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo("users", "tijori.users.app", "tijori.users.config.UsersSettings", 8081),
        ServiceInfo("wallets", "tijori.wallets.app", "tijori.wallets.config.WalletsSettings", 8082),
        ServiceInfo(
            "transactions",
            "tijori.transactions.app",
            "tijori.transactions.config.TransactionsSettings",
            8083,
        ),
        ServiceInfo(
            "notifications",
            "tijori.notifications.app",
            "tijori.notifications.config.NotificationsSettings",
            8084,
        ),
        ServiceInfo(
            "payments", "tijori.payments.app", "tijori.payments.config.PaymentsSettings", 8087
        ),
        # the gateway's own endpoints that need code: merged /docs, aggregated /ready
        ServiceInfo(
            "aggregator", "tijori.gateway.app", "tijori.gateway.config.GatewaySettings", 8086, False
        ),
        # not a part of Tijori: a Razorpay-compatible payment gateway for tests
        # (docs/sandbox.md); a deployment points TIJORI_PSP_BASE_URL at Razorpay instead
        ServiceInfo(
            "sandbox",
            "tijori.sandbox.app",
            "tijori.sandbox.config.SandboxSettings",
            8090,
            has_database=False,
        ),
    )
}
"""Every Python service, by name (the gateway itself is Caddy: ``tijori serve gateway``)."""

TEST_TOOLS = frozenset({"sandbox"})
"""What ``tijori serve`` runs that is no part of a deployment (compose has none of them)."""

GATEWAY = "gateway"
GATEWAY_PORT = 8080

DATABASE_SERVICES = [name for name, info in SERVICES.items() if info.has_database]


BACKGROUND_NICE = 10
"""The CPU priority ``tijori up`` lowers background processes by."""


@dataclass(frozen=True)
class ProcessInfo:
    """One process ``tijori up`` runs: a service in a role, on a port."""

    name: str
    service: str
    port: int
    role: str = "all"
    # lower CPU priority (TIJORI_NICE): wallets, notifications and the settling worker do
    # their work from Kafka, and under load yield the CPU to the request path; their
    # queues absorb the difference (docs/performance.md)
    nice: int = 0


PROCESSES: list[ProcessInfo] = [
    ProcessInfo("users", "users", 8081),
    ProcessInfo("wallets", "wallets", 8082, nice=BACKGROUND_NICE),
    # settling in a process of its own, so a burst of requests cannot starve it of CPU
    ProcessInfo("transactions", "transactions", 8083, role="api"),
    ProcessInfo("transactions-worker", "transactions", 8085, role="worker", nice=BACKGROUND_NICE),
    ProcessInfo("notifications", "notifications", 8084, nice=BACKGROUND_NICE),
    ProcessInfo("payments", "payments", 8087),
    ProcessInfo("aggregator", "aggregator", 8086),
    ProcessInfo(GATEWAY, GATEWAY, GATEWAY_PORT),
]
"""What ``tijori up`` starts, in order (the gateway, Caddy, last)."""
