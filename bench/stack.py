"""The Tijori the benchmark drives: every service as its own process on the real infra.

MariaDB, Apache Kafka and Redis are the ones ``infra/up.sh`` started; the benchmark
gets databases of its own (``tijori_bench_<service>``, dropped and migrated afresh at
the start of every run), a Kafka topic prefix of its own (``bench.<run>.``), Redis
database 13 (flushed at the start), ports 28080-28084 and a local SMTP sink on 28025
that accepts every e-mail and keeps none. Logs and keys live under ``bench/.work/<run>/``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tijori.services import PROCESSES

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
MYSQL = "mysql+asyncmy://tijori:tijori@127.0.0.1:3306"
DB_PREFIX = "tijori_bench_"
DATABASE_SERVICES = ("users", "wallets", "transactions", "notifications", "payments")
GATEWAY_PORT = 28080
PORTS = {
    "users": 28081,
    "wallets": 28082,
    "transactions": 28083,
    "notifications": 28084,
    "payments": 28087,
}
# the payment gateway sandbox, as `tijori up` starts it (payments talks to it)
SANDBOX = "sandbox"
SANDBOX_PORT = 28090
# with --split: a second transactions process that only consumes and settles
SETTLER = "transactions-worker"
WORKER_PORT = 28085
# the gateway's /ready and /docs (Caddy routes them to it)
AGGREGATOR_PORT = 28086
SMTP_PORT = 28025
REDIS_URL = "redis://127.0.0.1:6379/13"
KAFKA_BOOTSTRAP = os.environ.get("TIJORI_BENCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
TOPIC_PREFIX_ROOT = "bench."
READY_TIMEOUT_SECONDS = 90.0

Say = Callable[[str], None]


def database_url(service: str) -> str:
    """The benchmark's own database of ``service`` on the local MariaDB."""
    return f"{MYSQL}/{DB_PREFIX}{service}"


@dataclass
class BenchStack:
    """A running Tijori for one benchmark run."""

    run_id: str
    workdir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # held for the whole run: one benchmark at a time owns the tijori_bench_* names
    lock: IO[str] | None = None

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{GATEWAY_PORT}"

    def port(self, name: str) -> int:
        """The port of a service, the gateway or the SMTP sink."""
        ports = {
            "gateway": GATEWAY_PORT,
            "aggregator": AGGREGATOR_PORT,
            "smtp": SMTP_PORT,
            SETTLER: WORKER_PORT,
            SANDBOX: SANDBOX_PORT,
            **PORTS,
        }
        return ports[name]

    def pid(self, name: str) -> int:
        """The process id of a running service."""
        return self.processes[name].pid

    def log_tail(self, name: str, characters: int = 3000) -> str:
        """The end of what ``name`` has logged."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-characters:] if path.exists() else ""

    def tijori(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a ``tijori`` command against this stack's databases and broker."""
        return subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "tijori", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Start one process with its output in ``<workdir>/<name>.log``."""
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own commands
                command,
                env=self.env | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def wait_ready(self, name: str, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Block until ``name`` answers ``/ready`` with 200; return how long it took."""
        started = time.monotonic()
        probe = "/health" if name == SANDBOX else "/ready"
        url = f"http://127.0.0.1:{self.port(name)}{probe}"
        while time.monotonic() - started < timeout:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log_tail(name)}")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} was not ready within {timeout:.0f}s:\n{self.log_tail(name)}")

    def exited(self) -> list[str]:
        """The processes of the stack that are no longer running."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def stop(self) -> None:
        """Stop every process (the gateway first), SIGKILL after 15 s, and drop the topics."""
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        try:
            asyncio.run(delete_topics(self.env["TIJORI_KAFKA_TOPIC_PREFIX"]))
        except Exception as error:  # the run's results matter more than tidy topics
            print(f"[bench] could not delete this run's topics: {error!r}", file=sys.stderr)
        if self.lock is not None:
            self.lock.close()  # releases the flock
            self.lock = None


def service_env(run_id: str, workdir: Path) -> dict[str, str]:
    """The environment of every process of the stack: the real infra, the bench's names."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("TIJORI_")}
    env = inherited | {
        "TIJORI_DATA_DIR": str(workdir / "data"),
        "TIJORI_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
        "TIJORI_KAFKA_TOPIC_PREFIX": f"{TOPIC_PREFIX_ROOT}{run_id}.",
        "TIJORI_REDIS_URL": REDIS_URL,
        "TIJORI_SMTP_HOST": "127.0.0.1",
        "TIJORI_SMTP_PORT": str(SMTP_PORT),
        "TIJORI_GATEWAY_PORT": str(GATEWAY_PORT),
        # long enough for every token to outlive the run; nothing else is tuned
        "TIJORI_JWT_TTL_SECONDS": "7200",
        # the bench signs up thousands of users from one address and pays at once: it
        # turns e-mail verification and the sign-up limit per address off (issue 17), so
        # its numbers measure payments, not a code step no load client could take
        "TIJORI_REQUIRE_EMAIL_VERIFICATION": "false",
        "TIJORI_SIGNUP_LIMIT_PER_HOUR": "0",
        "TIJORI_SANDBOX_PORT": str(SANDBOX_PORT),
        "TIJORI_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{GATEWAY_PORT}/api/payments/webhooks/razorpay",
        "TIJORI_PUBLIC_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
    }
    for service in DATABASE_SERVICES:
        env[f"TIJORI_{service.upper()}_DATABASE_URL"] = database_url(service)
        env[f"TIJORI_{service.upper()}_URL"] = f"http://127.0.0.1:{PORTS[service]}"
    env["TIJORI_AGGREGATOR_URL"] = f"http://127.0.0.1:{AGGREGATOR_PORT}"
    return env


def start_stack(
    run_id: str, say: Say, *, split: bool = True, background_nice: int | None = None
) -> BenchStack:
    """Fresh databases, topics and cache, then every service; raises if one fails.

    With ``split``, transactions runs as two processes: one answers HTTP
    (``TIJORI_ROLE=api``), the other consumes and settles (``TIJORI_ROLE=worker``), and
    the background processes run at a lower CPU priority, as ``tijori up`` runs them
    (``background_nice`` instead of theirs, if given).
    """
    lock = _take_lock()
    ports = (GATEWAY_PORT, AGGREGATOR_PORT, *PORTS.values(), SMTP_PORT, SANDBOX_PORT)
    busy = [port for port in ports if _listening(port)]
    if busy:
        lock.close()
        raise RuntimeError(
            f"ports {busy} are in use: another benchmark (or its leftovers) is running"
        )
    _forget_old_runs()
    workdir = WORK / run_id
    (workdir / "data").mkdir(parents=True)
    stack = BenchStack(run_id=run_id, workdir=workdir, env=service_env(run_id, workdir), lock=lock)
    try:
        say(f"run {run_id}: dropping the tijori_bench_* databases, flushing Redis db 13")
        asyncio.run(reset_stores())
        stack.spawn(
            "smtp",
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
             "-l", f"127.0.0.1:{SMTP_PORT}"],
        )  # fmt: skip
        for command in (("migrate",), ("topics",)):
            say(f"tijori {command[0]}")
            result = stack.tijori(*command)
            if result.returncode != 0:
                raise RuntimeError(f"tijori {command[0]} failed:\n{result.stdout}{result.stderr}")
        roles = {"transactions": "api", SETTLER: "worker"} if split else {}
        # as `tijori up` runs them: the background processes at a lower CPU priority
        nice = {p.name: p.nice for p in PROCESSES if split}
        if background_nice is not None:
            nice = {name: background_nice if value else 0 for name, value in nice.items()}
        processes = [
            SANDBOX,
            *DATABASE_SERVICES,
            *([SETTLER] if split else []),
            "aggregator",
            "gateway",
        ]
        for name in processes:
            service = "transactions" if name == SETTLER else name
            stack.spawn(
                name,
                [sys.executable, "-m", "tijori", "serve", service,
                 "--port", str(stack.port(name)), "--nice", str(nice.get(name, 0))],
                env={"TIJORI_ROLE": roles[name]} if name in roles else None,
            )  # fmt: skip
        for service in processes:
            took = stack.wait_ready(service)
            say(f"{service} ready on :{stack.port(service)} ({took:.1f}s)")
    except BaseException:
        stack.stop()
        raise
    return stack


async def reset_stores() -> None:
    """Drop the benchmark's databases (``tijori migrate`` makes them again) and its Redis db."""
    import redis.asyncio as redis

    server = create_async_engine(MYSQL)
    try:
        async with server.begin() as connection:
            existing = set((await connection.execute(text("SHOW DATABASES"))).scalars())
            for service in DATABASE_SERVICES:
                if f"{DB_PREFIX}{service}" in existing:
                    # an identifier cannot be a bound parameter; these names are our constants
                    await connection.execute(text(f"DROP DATABASE `{DB_PREFIX}{service}`"))
    finally:
        await server.dispose()
    cache = redis.from_url(REDIS_URL)
    try:
        await cache.flushdb()
    finally:
        await cache.aclose()
    await delete_topics(TOPIC_PREFIX_ROOT)  # what an interrupted run left behind


async def delete_topics(prefix: str) -> None:
    """Delete every Kafka topic whose name starts with ``prefix`` (a ``bench.`` prefix)."""
    from aiokafka.admin import AIOKafkaAdminClient

    assert prefix.startswith(TOPIC_PREFIX_ROOT), prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP, request_timeout_ms=15000)
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def _take_lock() -> IO[str]:
    """Hold ``bench/.work/.lock``, or raise: another benchmark is using the bench names."""
    WORK.mkdir(parents=True, exist_ok=True)
    handle = (WORK / ".lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"another benchmark is running (it holds {WORK / '.lock'}); wait for it to end"
        ) from None
    return handle


def _forget_old_runs() -> None:
    """Keep ``bench/.work`` to the latest run: each run's logs and keys start empty."""
    if WORK.exists():
        for old in WORK.iterdir():
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
