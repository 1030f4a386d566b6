"""The service factory: one FastAPI app per service, with the same operational surface.

Every service gets problem+json errors, ``/health``, ``/ready``, ``/metrics`` and
``/docs``, a database, a cache, and (when Kafka is configured) its outbox relay and
consumers running beside the HTTP server for the life of the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tijori.common.auth import AUTH_PROBLEMS, TokenKeys
from tijori.common.body import StrictJsonRoute
from tijori.common.bus import KafkaBus
from tijori.common.cache import Cache, create_cache
from tijori.common.config import CommonSettings
from tijori.common.consumer import EventHandler, IdempotentConsumer, Prefetch
from tijori.common.db import (
    UnitOfWork,
    create_engine,
    create_read_engine,
    create_sessionmaker,
    ping,
)
from tijori.common.db.driver import DriverRead
from tijori.common.errors import install_problem_handlers, problem_response
from tijori.common.hot import HotApp, HotRoute
from tijori.common.metrics import install_http_metrics
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin
from tijori.common.openapi import document_openapi, install_swagger_ui, problems
from tijori.common.outbox import OutboxRelay
from tijori.common.tracing import configure_tracing, fastapi_telemetry, install_request_context

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """Everything a running service holds: its database, cache, bus and background work."""

    name: str
    settings: CommonSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    token_keys: TokenKeys
    bus: KafkaBus | None = None
    relay: OutboxRelay | None = None
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    workers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # work done once at start-up, in every role, beside the loops (retried if it fails)
    starting: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # what a service's setup builds at start-up for its routes, set on ``app.state``
    components: dict[str, Any] = field(default_factory=dict)
    # what the setup opened that must be closed at shutdown, once the loops have stopped
    closing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    database_url: str = ""
    read_engine: AsyncEngine | None = None

    def wake_relay(self) -> None:
        """Tell the outbox relay that new rows are committed."""
        if self.relay is not None:
            self.relay.wake()

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on this service's database; committed events wake the relay."""
        return UnitOfWork(self.sessions, wake_relay=self.wake_relay)

    def driver_read(self, statement: Select[*tuple[Any, ...]]) -> DriverRead:
        """``statement``, for a hot route that reads one row and writes nothing, sent on
        the bare driver (:class:`DriverRead`) outside any transaction (each statement
        commits itself), on a pool of its own made at the first use
        (:func:`create_read_engine`)."""
        if self.read_engine is None:
            self.read_engine = create_read_engine(self.database_url)
        return DriverRead(self.read_engine, statement)

    def consume(
        self,
        name: str,
        *,
        processed_model: type[ProcessedEventMixin],
        handlers: Mapping[str, EventHandler],
        prefetch: Prefetch | None = None,
    ) -> None:
        """Consume these event types as the consumer group ``name``, each event applied
        once (nothing, where there is no broker)."""
        if self.bus is None:
            return
        self.consumers.append(
            IdempotentConsumer(
                name=name,
                bus=self.bus,
                units=self.unit_of_work,
                processed_model=processed_model,
                handlers=handlers,
                prefetch=prefetch,
            )
        )


ServiceSetup = Callable[[ServiceRuntime], None]
"""Adds a service's consumers and workers to its runtime."""


def build_runtime(
    *,
    name: str,
    settings: CommonSettings,
    database_url: str,
    outbox_model: type[OutboxMessageMixin] | None,
    signs_tokens: bool = False,
) -> ServiceRuntime:
    """Connect a service to its database, cache and bus (nothing runs yet); only one
    that ``signs_tokens`` holds the signing key."""
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    runtime = ServiceRuntime(
        name=name,
        settings=settings,
        engine=engine,
        sessions=sessions,
        database_url=database_url,
        cache=create_cache(settings.redis_url),
        token_keys=TokenKeys.from_settings(settings, signing=signs_tokens),
    )
    if settings.kafka_bootstrap:
        runtime.bus = KafkaBus(
            settings.kafka_bootstrap,
            prefix=settings.kafka_topic_prefix,
            client_id=f"tijori-{name}",
            session_timeout_ms=settings.kafka_session_timeout_ms,
        )
        if outbox_model is not None:
            runtime.relay = OutboxRelay(
                units=runtime.unit_of_work,
                model=outbox_model,
                bus=runtime.bus,
                poll_seconds=settings.outbox_poll_seconds,
                replay_seconds=settings.outbox_replay_seconds,
                retention_seconds=settings.outbox_retention_seconds,
            )
    return runtime


async def _supervised(name: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run a background loop; a crash is logged loudly and the loop restarted."""
    while True:
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s crashed; restarting in 1s", name)
            await asyncio.sleep(1)


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: CommonSettings,
    database_url: str,
    routers: Sequence[APIRouter],
    outbox_model: type[OutboxMessageMixin] | None = None,
    setup: ServiceSetup | None = None,
    signs_tokens: bool = False,
    hot_routes: Sequence[HotRoute[Any]] = (),
) -> FastAPI:
    """Build the FastAPI app of one service; ``hot_routes`` are served ahead of
    FastAPI's stack (:mod:`tijori.common.hot`), each beside its FastAPI route.

    Its routers must be made with ``route_class=StrictJsonRoute``, so that every JSON
    body of every service is read one way (``tijori.common.body``).
    """
    for router in routers:
        if not issubclass(router.route_class, StrictJsonRoute):
            raise TypeError(
                f"the router of {router.prefix or '/'} needs route_class=StrictJsonRoute"
            )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(
            name=name,
            settings=settings,
            database_url=database_url,
            outbox_model=outbox_model,
            signs_tokens=signs_tokens,
        )
        if setup is not None:
            setup(runtime)
        app.state.runtime = runtime
        app.state.token_keys = runtime.token_keys
        for component, value in runtime.components.items():
            setattr(app.state, component, value)
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if runtime.relay is not None:  # every role: it wakes on this process's commits
            loops.append(("outbox-relay", runtime.relay.run))
        loops += [(getattr(work, "__name__", "start-up"), work) for work in runtime.starting]
        if settings.role != "api":
            loops += [(consumer.name, consumer.run) for consumer in runtime.consumers]
            loops += [(getattr(work, "__name__", "worker"), work) for work in runtime.workers]
        app.state.background = [label for label, _ in loops]
        tasks = [asyncio.create_task(_supervised(label, work), name=label) for label, work in loops]
        log.info("%s (%s) started: %s", name, settings.role, ", ".join(app.state.background))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in runtime.closing:
                await close()
            await runtime.cache.close()
            await runtime.engine.dispose()
            if runtime.read_engine is not None:
                await runtime.read_engine.dispose()

    configure_tracing(name)
    app = HotApp(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        telemetry=fastapi_telemetry(),
        docs_url=None,  # served from the installed package instead: install_swagger_ui
        redoc_url=None,
    )
    app.router.route_class = StrictJsonRoute
    install_problem_handlers(app)
    document_openapi(app, auth_codes=AUTH_PROBLEMS)
    install_swagger_ui(app, title=f"{title} API")
    install_request_context(app)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Readiness: database, cache, broker and consumers",
        responses=problems({503: ["not_ready"]}),
    )
    async def ready(request: Request) -> Any:
        runtime: ServiceRuntime = request.app.state.runtime
        checks: dict[str, str] = {}
        probes: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("database", lambda: ping(runtime.engine)),
            ("cache", runtime.cache.ping),
        ]
        if runtime.bus is not None:
            probes.append(("broker", runtime.bus.ping))
        for label, probe in probes:
            try:
                await asyncio.wait_for(probe(), timeout=5)
                checks[label] = "ok"
            except Exception as error:
                checks[label] = f"unavailable: {type(error).__name__}"
        if runtime.bus is not None and settings.role != "api":
            # ready means its consumers get the events from now on
            for consumer in runtime.consumers:
                checks[f"consumer {consumer.name}"] = "ok" if consumer.joined else "joining"
        if all(value == "ok" for value in checks.values()):
            return {"status": "ready", "service": name, "checks": checks}
        return problem_response(503, "not_ready", f"{name} is not ready", checks=checks)

    install_http_metrics(app)
    if settings.role != "worker":  # a worker settles: it answers probes and scrapes only
        for router in routers:
            app.include_router(router)
        declared = {
            (method, route.path)
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
        for hot in hot_routes:  # its FastAPI route answers what the hot path declines
            if (hot.method, hot.path) not in declared:
                raise TypeError(f"the hot route {hot.method} {hot.path} has no FastAPI route")
        app.serve_hot(hot_routes)
    return app


async def get_runtime(request: Request) -> ServiceRuntime:
    """The runtime of the service handling ``request``.

    Dependencies are ``async def`` even when they await nothing: FastAPI runs a plain
    ``def`` dependency in its thread pool, a thread hop on every request.
    """
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """The unit of work of one request; the route commits what it means to keep."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.unit_of_work() as uow:
        yield uow


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
