"""One phase of the benchmark: drive, follow, wait for the system to settle and recover.

A phase is one open-loop rate or one closed-loop concurrency. The load generator runs
as its own process (``python -m bench.load drive``); this module reads its running
totals and the transactions database every two seconds for the progress lines, then
waits (at most ``--settle-timeout``) until nothing of the phase is PENDING and a probe
transfer is accepted within two seconds again, so that an overloaded phase does not
spill into the next one. Probe transfers carry the note ``bench-probe`` and are left
out of every number.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import measure, report
from bench.cpu import CpuMeter, infra_pids
from bench.profiling import Profiler
from bench.stack import ROOT, BenchStack, database_url

PROGRESS_EVERY_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 2.0
# set by Ctrl-C or SIGTERM: every waiting loop checks it, whatever a library swallowed
STOPPING = threading.Event()


def say(message: str) -> None:
    """One line of the benchmark's own, at once."""
    print(f"[bench] {message}", flush=True)


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM set ``STOPPING`` and raise KeyboardInterrupt (asyncio then keeps
    this handler instead of installing its own, which only cancels a task)."""

    def interrupt(signum: int, _: object) -> None:
        STOPPING.set()
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def check_running(stack: BenchStack) -> None:
    """Raise if the run was interrupted or a process of the stack has died."""
    if STOPPING.is_set():
        raise KeyboardInterrupt("stopping")
    exited = stack.exited()
    if exited:
        raise RuntimeError(
            f"{', '.join(exited)} exited during the run:\n{stack.log_tail(exited[0])}"
        )


@dataclass(frozen=True)
class Phase:
    """One stretch of load: a rate (open loop) or a number of workers (closed loop)."""

    mode: str
    duration: float
    rate: float | None = None
    concurrency: int | None = None

    @property
    def label(self) -> str:
        """``open 300/s`` or ``closed 64``."""
        return f"open {self.rate:g}/s" if self.rate else f"closed {self.concurrency}"


@dataclass
class Context:
    """What every phase needs."""

    stack: BenchStack
    users_file: Path
    settle_timeout: float
    profile: list[str]


class Probe:
    """A one-paisa transfer now and then, to tell when the system answers promptly again."""

    def __init__(self, gateway: str, users_file: Path) -> None:
        self.gateway = gateway
        self.sender, self.receiver = json.loads(users_file.read_text())[:2]

    async def accepted_promptly(self) -> bool:
        """Whether a transfer is accepted (202) within ``PROBE_TIMEOUT_SECONDS``."""
        async with httpx.AsyncClient(
            base_url=self.gateway, timeout=PROBE_TIMEOUT_SECONDS
        ) as client:
            auth = {"Authorization": f"Bearer {self.sender['token']}"}
            body = {"receiver": self.receiver["phone"], "amount": "0.01"}
            key = uuid.uuid4().hex
            try:
                confirmation = await client.post(
                    "/api/auth/payment-token",
                    json=body | {"pin": self.sender["pin"], "idempotency_key": key},
                    headers=auth,
                )
                if confirmation.status_code != 200:
                    return False
                answer = await client.post(
                    "/api/transactions",
                    json=body | {"note": measure.PROBE_NOTE},
                    headers=auth
                    | {
                        "Idempotency-Key": key,
                        "X-Payment-Token": confirmation.json()["payment_token"],
                    },
                )
            except httpx.HTTPError:
                return False
        return answer.status_code == 202


async def run_phase(context: Context, phase: Phase, *, profile: str | None) -> dict[str, Any]:
    """Drive one phase from a separate process, show progress, wait for it to settle."""
    stack = context.stack
    transactions_db = create_async_engine(database_url("transactions"), pool_size=2)
    wallets_db = create_async_engine(database_url("wallets"), pool_size=1)
    notifications_db = create_async_engine(database_url("notifications"), pool_size=1)
    backlog = {"transactions": 0, "wallets": 0}
    try:
        after = await measure.last_seq(transactions_db)
        out = stack.workdir / f"load-{phase.label.replace(' ', '-').replace('/', '')}.json"
        how = (
            ["--rate", f"{phase.rate:g}"]
            if phase.rate
            else ["--concurrency", str(phase.concurrency)]
        )
        with (stack.workdir / "load.log").open("ab") as errors:
            generator = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.load", "drive", "--gateway", stack.gateway,
                "--users-file", str(context.users_file), "--out", str(out),
                "--duration", f"{phase.duration:g}", *how,
                stdout=asyncio.subprocess.PIPE, stderr=errors, cwd=ROOT,
            )  # fmt: skip
        say(f"{phase.label}: load generator pid {generator.pid}, {phase.duration:g} s")
        meter = CpuMeter(
            {
                # the SMTP sink stands in for a mail relay elsewhere: counted, not as Tijori
                ("smtp_sink" if name == "smtp" else name): pid
                for name, pid in stack.pids().items()
            }
            | infra_pids()
        )
        meter.start()
        started = time.monotonic()
        profilers = _start_profilers(context, phase, profile) if profile else []
        try:
            await _follow(
                stack,
                generator,
                {"transactions": transactions_db, "wallets": wallets_db},
                after,
                phase,
                backlog,
            )
        finally:
            if generator.returncode is None:
                generator.kill()
                await generator.wait()
        cpu = meter.stop(time.monotonic() - started)
        if generator.returncode != 0 or not out.exists():
            raise RuntimeError(f"the load generator failed; see {stack.workdir / 'load.log'}")
        probe = Probe(stack.gateway, context.users_file)
        waited, recovered = await _recover(
            stack, transactions_db, after, phase, context.settle_timeout, probe
        )
        rows = await measure.settlements(transactions_db, after)
        first = min((row.created_at for row in rows), default=time.time())
        decided = await measure.decisions(wallets_db, first)
        emails = await measure.mail_states(notifications_db)
    finally:
        await transactions_db.dispose()
        await wallets_db.dispose()
        await notifications_db.dispose()
    load = json.loads(out.read_text())
    result = measure.summarize_phase(
        load, rows, decided, duration=phase.duration, settle_wait_seconds=waited
    )
    result["recovered"] = recovered
    # the round trip of the payment token asked for before each transfer (users)
    result["payment_token_ms"] = measure.percentiles(load.get("payment_token_ms", []))
    result["outbox_backlog_max"] = backlog
    # the run's e-mails when the phase's transfers had settled: the mailer may lag
    result["emails"] = emails
    generator_cores = result["generator"]["cpu_share"]
    cpu["cores_by_process"]["load_generator"] = generator_cores
    cpu["other_processes_cores"] = round(
        max(0.0, cpu["other_processes_cores"] - generator_cores), 2
    )
    result["cpu"] = cpu
    if phase.rate:
        result["rate"] = phase.rate
    else:
        result["concurrency"] = phase.concurrency
    if profilers:
        result["profiles"] = [profiler.finish() for profiler in profilers]
    say(
        f"{phase.label}: {result['accepted']} accepted, {result['settled_per_s']:.0f} settled/s, "
        f"accept p99 {result['accept_ms']['p99']} ms, settle p99 {result['settle_ms']['p99']} ms, "
        f"errors {result['error_count']}, still pending {result['still_pending']}, "
        f"e-mails sent {emails['sent']}, waiting {emails['pending']}"
    )
    return result


def _start_profilers(context: Context, phase: Phase, stamp: str) -> list[Profiler]:
    """py-spy on each profiled service: ``<stamp>-<mode>-profile-<service>.{folded,svg}``."""
    profilers = []
    report.RESULTS.mkdir(parents=True, exist_ok=True)
    for name in context.profile:
        folded = report.RESULTS / f"{stamp}-{phase.mode}-profile-{name}.folded"
        log = context.stack.workdir / f"py-spy-{name}.log"
        profiler = Profiler(name, folded, log)
        profiler.start(context.stack.pid(name), phase.duration)
        profilers.append(profiler)
    say(f"py-spy recording {', '.join(context.profile)} for {phase.duration:g} s")
    return profilers


async def _follow(
    stack: BenchStack,
    generator: asyncio.subprocess.Process,
    engines: dict[str, AsyncEngine],
    after: int,
    phase: Phase,
    backlog: dict[str, int],
) -> None:
    """Print a progress line every two seconds until the generator exits; keep the
    largest outbox backlog of each service in ``backlog``."""
    assert generator.stdout is not None
    latest: dict[str, Any] = {}

    async def read() -> None:
        assert generator.stdout is not None
        async for line in generator.stdout:
            try:
                latest.update(json.loads(line))
            except ValueError:
                continue

    reader = asyncio.create_task(read())
    previous = {"at": time.monotonic(), "elapsed": 0.0, "sent": 0, "accepted": 0, "settled": 0}
    while not reader.done():
        await asyncio.wait({reader}, timeout=PROGRESS_EVERY_SECONDS)
        check_running(stack)
        stored, pending = await measure.progress(engines["transactions"], after)
        outbox = {name: await measure.outbox_backlog(engine) for name, engine in engines.items()}
        for name, count in outbox.items():
            backlog[name] = max(backlog[name], count)
        current = {
            "at": time.monotonic(),
            "elapsed": latest.get("elapsed", 0.0),
            "sent": latest.get("sent", 0),
            "accepted": latest.get("accepted", 0),
            "settled": stored - pending,
        }
        # the generator's counts over the generator's clock (its last report, at exit,
        # may come moments after the one before), the database's over the monitor's
        spans = {
            "sent": current["elapsed"] - previous["elapsed"],
            "accepted": current["elapsed"] - previous["elapsed"],
            "settled": current["at"] - previous["at"],
        }
        rates = {
            key: (current[key] - previous[key]) / max(span, 1e-9) for key, span in spans.items()
        }
        say(
            f"{phase.label:<12} t={latest.get('elapsed', 0):5.1f}s  "
            f"offered {rates['sent']:4.0f}/s  accepted {rates['accepted']:4.0f}/s  "
            f"settled {rates['settled']:4.0f}/s  errors {latest.get('errors', 0)}  "
            f"in flight {latest.get('in_flight', 0)}  pending {pending}  "
            f"outbox tx {outbox['transactions']} wal {outbox['wallets']}"
        )
        previous = current
    await generator.wait()


async def _recover(
    stack: BenchStack, engine: AsyncEngine, after: int, phase: Phase, limit: float, probe: Probe
) -> tuple[float, bool]:
    """Wait, at most ``limit`` seconds, until nothing of the phase is PENDING and a probe
    is accepted promptly (requests abandoned by the generator may still be queued in the
    services, and be stored late). Return the wait and whether the system recovered."""
    started = time.monotonic()
    while True:
        check_running(stack)
        stored, pending = await measure.progress(engine, after)
        waited = time.monotonic() - started
        if pending == 0 and await probe.accepted_promptly():
            return time.monotonic() - started, True
        if waited >= limit:
            say(f"{phase.label}: {pending} still PENDING or not answering after {limit:.0f} s")
            return waited, False
        state = "draining" if pending else "waiting for a prompt answer"
        say(f"{phase.label:<12} {state}: {stored - pending} of {stored} settled, {pending} pending")
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
