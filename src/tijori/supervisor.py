"""``tijori up``: runs every service as its own process and watches over them.

Starts them in order and waits for each to be ready, streams their logs with a prefix
per service, says so loudly when one dies (and restarts it a few times), and on Ctrl-C
or SIGTERM stops them all. A second ``tijori up`` on the same data directory refuses to
start rather than fight over ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tijori.common.config import CommonSettings
from tijori.services import DATABASE_SERVICES, SERVICES

COLOURS = {"users": 36, "wallets": 32, "transactions": 35, "notifications": 33, "gateway": 34}
READY_TIMEOUT_SECONDS = 60
MAX_RESTARTS = 3


def say(message: str) -> None:
    """Print a line of the supervisor's own."""
    print(f"\033[1m[tijori]\033[0m {message}", flush=True)


@dataclass
class Child:
    """One service process."""

    name: str
    port: int
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where the service answers."""
        return f"http://127.0.0.1:{self.port}"


class AlreadyRunningError(RuntimeError):
    """Another ``tijori up`` holds the data directory."""


@contextlib.contextmanager
def single_instance(data_dir: Path, url: str) -> Iterator[IO[str]]:
    """Hold a lock on the data directory for as long as this ``tijori up`` runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / "up.lock"
    handle: IO[str] = lock_path.open("a+")
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
    colour = COLOURS.get(name, 37)
    prefix = f"\033[{colour}m{name:>13} |\033[0m "
    while line := await stream.readline():
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


class Supervisor:
    """Starts, watches and stops the service processes."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        gateway_port = int(os.environ.get("TIJORI_GATEWAY_PORT", SERVICES["gateway"].port))
        self.children = [
            Child(name, gateway_port if name == "gateway" else info.port)
            for name, info in SERVICES.items()
        ]
        self.stopping = asyncio.Event()

    def environment(self) -> dict[str, str]:
        """What every child sees: this environment plus where its peers live."""
        env = dict(os.environ)
        env.setdefault("TIJORI_DATA_DIR", str(self.settings.data_dir.resolve()))
        for child in self.children:
            env.setdefault(f"TIJORI_{child.name.upper()}_URL", child.url)
        return env

    async def spawn(self, child: Child) -> None:
        """Start ``child`` and stream its output."""
        child.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tijori",
            "serve",
            child.name,
            "--port",
            str(child.port),
            env=self.environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
        )
        assert child.process.stdout is not None
        child.pump = asyncio.create_task(_pump(child.name, child.process.stdout))

    async def wait_ready(self, child: Child) -> None:
        """Poll ``/ready`` until the service says it is ready."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() - started < READY_TIMEOUT_SECONDS:
                assert child.process is not None
                if child.process.returncode is not None:
                    raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(child.url + "/ready")).status_code == 200:
                        say(
                            f"{child.name} ready on {child.url} ({time.monotonic() - started:.1f}s)"
                        )
                        return
                await asyncio.sleep(0.3)
        raise RuntimeError(f"{child.name} was not ready within {READY_TIMEOUT_SECONDS}s")

    async def watch(self, child: Child) -> None:
        """Report and restart ``child`` when it dies, up to ``MAX_RESTARTS`` times."""
        while not self.stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            if child.restarts >= MAX_RESTARTS:
                say(f"\033[31m{child.name} exited with code {code} too often; stopping\033[0m")
                self.stopping.set()
                return
            child.restarts += 1
            say(
                f"\033[31m{child.name} exited with code {code}; restarting it "
                f"({child.restarts}/{MAX_RESTARTS})\033[0m"
            )
            await self.spawn(child)

    async def stop(self) -> None:
        """SIGTERM every child (gateway first), then SIGKILL what is left after 10 s."""
        for child in reversed(self.children):
            if child.process is not None and child.process.returncode is None:
                child.process.terminate()
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                await asyncio.wait_for(child.process.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                child.process.kill()
                await child.process.wait()
            if child.pump is not None:
                await child.pump
        say("stopped")

    async def run(self) -> int:
        """Start everything, wait for a signal or a fatal exit, stop everything."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        try:
            for child in self.children:
                say(f"starting {child.name} ...")
                await self.spawn(child)
                await self.wait_ready(child)
        except RuntimeError as error:
            say(f"\033[31m{error}\033[0m")
            await self.stop()
            return 1
        gateway = self.children[-1]
        say(f"\033[1;32mTijori is running: open {gateway.url}\033[0m  (Ctrl-C stops it)")
        watchers = [asyncio.create_task(self.watch(child)) for child in self.children]
        await self.stopping.wait()
        say("stopping ...")
        for watcher in watchers:
            watcher.cancel()
        await self.stop()
        return 0


def prepare(settings: CommonSettings) -> None:
    """Migrate every database and create the topics before any service starts."""
    from tijori.common.bus import KafkaBus
    from tijori.common.migrations import upgrade

    for name in DATABASE_SERVICES:
        say(f"migrating the {name} database")
        upgrade(name, SERVICES[name].settings().resolved_database_url)
    if settings.kafka_bootstrap:
        bus = KafkaBus(settings.kafka_bootstrap, prefix=settings.kafka_topic_prefix)
        made = asyncio.run(bus.create_topics())
        say(f"Kafka topics ready at {settings.kafka_bootstrap} ({len(made)} created)")


def run_all() -> int:
    """The body of ``tijori up``."""
    settings = CommonSettings()
    if not settings.kafka_bootstrap:
        say(
            "TIJORI_KAFKA_BOOTSTRAP is not set. `make run` starts the local Kafka and sets it; "
            "the embedded broker is not part of Tijori yet."
        )
        return 2
    gateway_port = int(os.environ.get("TIJORI_GATEWAY_PORT", SERVICES["gateway"].port))
    try:
        with single_instance(settings.data_dir, f"http://127.0.0.1:{gateway_port}"):
            prepare(settings)
            return asyncio.run(Supervisor(settings).run())
    except AlreadyRunningError as error:
        say(f"Tijori is already running here: {error}. Stop it first (Ctrl-C in its terminal).")
        return 1
