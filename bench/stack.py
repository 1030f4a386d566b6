"""The Tijori the benchmark drives: ``tijori up``, as a user starts it, on the real infra.

The stack is the one ``tijori up`` runs (the same code: its processes, roles, CPU
priorities, start order and readiness, the gateway and the payment gateway sandbox, its
logs streamed through it), with every port moved by ``--port-offset 20000`` so it runs
beside a ``make run``: gateway on 28080, services on 28081-28087, the sandbox on 28090.
MariaDB, Apache Kafka and Redis are the ones ``infra/up.sh`` started; the benchmark
gets databases of its own (``tijori_bench_<service>``, dropped at the start of every run
and migrated by ``tijori up``), a Kafka topic prefix of its own (``bench.<run>.``), Redis
database 13 (flushed at the start) and a local SMTP sink on 28025 that accepts every
e-mail and keeps none. ``tijori up``'s output (every process's log) and the keys live
under ``bench/.work/<run>/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tijori.services import GATEWAY_PORT as SERVICE_GATEWAY_PORT
from tijori.services import PROCESSES, SERVICES
from tijori.supervisor import REPLICA_PORT_STEP

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
MYSQL = "mysql+asyncmy://tijori:tijori@127.0.0.1:3306"
DB_PREFIX = "tijori_bench_"
DATABASE_SERVICES = ("users", "wallets", "transactions", "notifications", "payments")
# every port of `tijori up`, moved: the gateway on 28080, users on 28081 ...
PORT_OFFSET = 20000
GATEWAY_PORT = SERVICE_GATEWAY_PORT + PORT_OFFSET
# the payment gateway sandbox, as `tijori up` starts it (payments talks to it)
SANDBOX = "sandbox"
# what must be free before `tijori up` starts: its processes' ports and the sandbox's
STACK_PORTS = (
    *(process.port + PORT_OFFSET for process in PROCESSES),
    SERVICES[SANDBOX].port + PORT_OFFSET,
)
UP = "tijori-up"
SMTP_PORT = 28025
REDIS_URL = "redis://127.0.0.1:6379/13"
KAFKA_BOOTSTRAP = os.environ.get("TIJORI_BENCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
TOPIC_PREFIX_ROOT = "bench."
READY_TIMEOUT_SECONDS = 180.0
# what `tijori up` prints once the gateway and every service behind it are ready
RUNNING = "Tijori is running"
PROC = Path("/proc")

Say = Callable[[str], None]


def database_url(service: str) -> str:
    """The benchmark's own database of ``service`` on the local MariaDB."""
    return f"{MYSQL}/{DB_PREFIX}{service}"


@dataclass
class BenchStack:
    """A running Tijori for one benchmark run: ``tijori up`` and the SMTP sink."""

    run_id: str
    workdir: Path
    env: dict[str, str]
    replicas: dict[str, int] = field(default_factory=dict)
    # the SMTP sink and ``tijori up``, started by the benchmark
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # what ``tijori up`` started, by its names for them (``transactions-2`` ...)
    children: dict[str, int] = field(default_factory=dict)
    # held for the whole run: one benchmark at a time owns the tijori_bench_* names
    lock: IO[str] | None = None

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{GATEWAY_PORT}"

    def pids(self) -> dict[str, int]:
        """Every process of the stack by name: ``tijori up`` itself, what it started, the sink."""
        return {
            "smtp": self.processes["smtp"].pid,
            UP: self.processes[UP].pid,
            **self.children,
        }

    def pid(self, name: str) -> int:
        """The process id of a running service."""
        return self.children[name]

    def log_tail(self, name: str, characters: int = 3000) -> str:
        """The end of what ``name`` has logged (``tijori up`` prefixes each line with it)."""
        path = self.workdir / f"{UP}.log"
        if not path.exists():
            return ""
        text = path.read_text(errors="replace")
        if name != UP:
            text = "".join(line for line in text.splitlines(True) if f" {name} |" in line)
        return text[-characters:]

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

    def spawn(self, name: str, command: list[str]) -> None:
        """Start one process with its output in ``<workdir>/<name>.log``."""
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own commands
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def wait_running(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Block until ``tijori up`` says Tijori is running (its gateway's ``/ready`` is
        then true) and its processes are known; return how long it took."""
        started = time.monotonic()
        up = self.processes[UP]
        while time.monotonic() - started < timeout:
            if up.poll() is not None:
                raise RuntimeError(f"tijori up exited:\n{self.log_tail(UP)}")
            if RUNNING in self.log_tail(UP, 600):
                self.children = _children(up.pid)
                return time.monotonic() - started
            time.sleep(0.3)
        raise RuntimeError(f"tijori up was not running within {timeout:.0f}s:\n{self.log_tail(UP)}")

    def exited(self) -> list[str]:
        """The processes of the stack that are no longer running (``tijori up`` restarts
        one that dies, under a new process id: that counts too)."""
        return [name for name, pid in self.pids().items() if not (PROC / str(pid)).exists()]

    def stop(self) -> None:
        """Stop ``tijori up`` (it stops the gateway first), then the sink; drop the topics."""
        for name in (UP, "smtp"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in self.children.values():  # only if `tijori up` could not stop them
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            asyncio.run(delete_topics(self.env["TIJORI_KAFKA_TOPIC_PREFIX"]))
        except Exception as error:  # the run's results matter more than tidy topics
            print(f"[bench] could not delete this run's topics: {error!r}", file=sys.stderr)
        if self.lock is not None:
            self.lock.close()  # releases the flock
            self.lock = None


def _children(parent: int) -> dict[str, int]:
    """What ``tijori up`` (``parent``) runs, by the name it gives each: a service is
    ``tijori serve <service> --port P --role R``, named by its port."""
    names = {
        process.port + PORT_OFFSET + REPLICA_PORT_STEP * replica: (
            process.name if replica == 0 else f"{process.name}-{replica + 1}"
        )
        for process in PROCESSES
        for replica in range(10)
    }
    found: dict[str, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
            continue
        if Path(argv[0]).name == "caddy":  # `tijori serve gateway` became Caddy (exec)
            found["gateway"] = int(entry.name)
        elif "--port" in argv:
            port = int(argv[argv.index("--port") + 1])
            name = SANDBOX if "sandbox" in argv else names.get(port, f"port-{port}")
            found[name] = int(entry.name)
    return found


def service_env(run_id: str, workdir: Path) -> dict[str, str]:
    """The environment ``tijori up`` gets: the real infra and the bench's names for its
    databases, topics, cache and mail; everything else (ports, URLs between the
    processes, the sandbox) is ``tijori up``'s own doing."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("TIJORI_")}
    env = inherited | {
        "TIJORI_DATA_DIR": str(workdir / "data"),
        "TIJORI_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
        "TIJORI_KAFKA_TOPIC_PREFIX": f"{TOPIC_PREFIX_ROOT}{run_id}.",
        "TIJORI_REDIS_URL": REDIS_URL,
        "TIJORI_SMTP_HOST": "127.0.0.1",
        "TIJORI_SMTP_PORT": str(SMTP_PORT),
        # long enough for every token to outlive the run; nothing else is tuned
        "TIJORI_JWT_TTL_SECONDS": "7200",
        # the bench signs up thousands of users from one address and pays at once: it
        # turns e-mail verification and the sign-up limit per address off (issue 17), so
        # its numbers measure payments, not a code step no load client could take
        "TIJORI_REQUIRE_EMAIL_VERIFICATION": "false",
        "TIJORI_SIGNUP_LIMIT_PER_HOUR": "0",
    }
    for service in DATABASE_SERVICES:
        env[f"TIJORI_{service.upper()}_DATABASE_URL"] = database_url(service)
    return env


def start_stack(run_id: str, say: Say, *, replicas: dict[str, int] | None = None) -> BenchStack:
    """Fresh databases, topics and cache, the SMTP sink, then ``tijori up``; raises if
    it does not come up."""
    lock = _take_lock()
    ports = (*STACK_PORTS, SMTP_PORT)
    busy = [port for port in ports if _listening(port)]
    if busy:
        lock.close()
        raise RuntimeError(
            f"ports {busy} are in use: another benchmark (or its leftovers) is running"
        )
    _forget_old_runs()
    workdir = WORK / run_id
    (workdir / "data").mkdir(parents=True)
    stack = BenchStack(
        run_id=run_id,
        workdir=workdir,
        env=service_env(run_id, workdir),
        replicas=replicas or {},
        lock=lock,
    )
    try:
        say(f"run {run_id}: dropping the tijori_bench_* databases, flushing Redis db 13")
        asyncio.run(reset_stores())
        stack.spawn(
            "smtp",
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
             "-l", f"127.0.0.1:{SMTP_PORT}"],
        )  # fmt: skip
        command = [sys.executable, "-m", "tijori", "up", "--port-offset", str(PORT_OFFSET)]
        if replicas:
            command += ["--replicas", ",".join(f"{name}={n}" for name, n in replicas.items())]
        say(f"{' '.join(command[2:])} (its output: {workdir / f'{UP}.log'})")
        stack.spawn(UP, command)
        took = stack.wait_running()
        say(f"Tijori is running ({took:.1f}s): {', '.join(sorted(stack.children))}")
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
