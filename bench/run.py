"""``python -m bench``: start a Tijori, load it from another process, measure, audit, report.

    python -m bench                              # open loop at 100/s and 300/s, then closed
    python -m bench --mode open --rates 100,300,600 --duration 30
    python -m bench --mode closed --concurrency 64 --duration 60
    python -m bench --quick                      # a short smoke run of both modes

Each open-loop rate and each closed-loop concurrency is a phase: the generator runs for
``--duration`` seconds, then the benchmark waits (at most ``--settle-timeout``) for every
accepted transfer to settle before the next phase. After each mode ``tijori audit``
checks the ledger. Services are stopped at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from bench import measure, report
from bench.phase import Context, Phase, run_phase, say, stop_on_signals
from bench.stack import ROOT, BenchStack, database_url, start_stack
from tijori.supervisor import parse_replicas

ACCOUNTS_TIMEOUT_SECONDS = 120.0


def audit(stack: BenchStack) -> dict[str, Any]:
    """``tijori audit`` on the benchmark's databases: its verdict and its report."""
    result = stack.tijori("audit")
    lines = (result.stdout + result.stderr).strip().splitlines()
    return {"clean": result.returncode == 0, "exit_code": result.returncode, "report": lines}


def plan(args: argparse.Namespace) -> dict[str, list[Phase]]:
    """The phases of each mode this run will measure."""
    open_seconds = args.duration or (5.0 if args.quick else 30.0)
    closed_seconds = args.duration or (5.0 if args.quick else 60.0)
    rates = _numbers(args.rates or ("50" if args.quick else "100,300"))
    workers = _numbers(args.concurrency or ("8" if args.quick else "64"))
    modes = ["open", "closed"] if args.mode == "both" else [args.mode]
    phases: dict[str, list[Phase]] = {}
    if "open" in modes:
        phases["open"] = [Phase("open", open_seconds, rate=rate) for rate in rates]
    if "closed" in modes:
        phases["closed"] = [Phase("closed", closed_seconds, concurrency=int(n)) for n in workers]
    return phases


def _numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def sign_up(stack: BenchStack, users: int) -> Path:
    """Open the users (from a generator process) and wait until each can be paid."""
    users_file = stack.workdir / "users.json"
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.load", "signup", "--gateway", stack.gateway,
         "--users", str(users), "--run-id", stack.run_id, "--out", str(users_file)],
        capture_output=True, text=True, timeout=900, check=False, cwd=ROOT,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"sign-up failed:\n{result.stderr[-3000:]}")

    async def wait_for_accounts() -> None:
        engine = create_async_engine(database_url("transactions"), pool_size=1)
        try:
            deadline = time.monotonic() + ACCOUNTS_TIMEOUT_SECONDS
            while (known := await measure.accounts_known(engine)) < users:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {known} of {users} wallets reached transactions")
                await asyncio.sleep(0.5)
        finally:
            await engine.dispose()

    asyncio.run(wait_for_accounts())
    say(f"{users} users signed up, logged in, wallets open ({time.monotonic() - started:.1f}s)")
    return users_file


def describe_machine() -> dict[str, Any]:
    """Where the numbers were measured, and what the code was."""

    def git(*args: str) -> str:
        found = subprocess.run(  # noqa: S603 - read-only git queries
            ["git", *args],  # noqa: S607 - git from the PATH, as make does
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        return found.stdout.strip()

    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files_in_src": len(git("status", "--porcelain", "src").splitlines()),
    }


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mode", choices=("open", "closed", "both"), default="both")
    parser.add_argument("--rates", help="open loop: offered transfers/s, e.g. 100,300 (default)")
    parser.add_argument("--concurrency", help="closed loop: transfers in flight, e.g. 64 (default)")
    parser.add_argument("--duration", type=float, help="seconds per phase (30 open, 60 closed)")
    parser.add_argument("--users", type=int, help="users to sign up (default 50; 10 quick)")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=120.0,
        help="seconds to wait after each phase for transfers to settle",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    parser.add_argument(
        "--replicas",
        type=parse_replicas,
        default={},
        metavar="PROCESS=N,...",
        help="run N processes of these, as tijori up --replicas does (e.g. transactions=2)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the services during the last phase (flame graphs)",
    )
    parser.add_argument(
        "--profile-services",
        default="wallets,transactions",
        help="which processes --profile samples",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every phase had no error and every audit was clean."""
    args = build_parser().parse_args(argv)
    phases = plan(args)
    users = args.users or (10 if args.quick else 50)
    run_id, stamp = uuid.uuid4().hex[:8], datetime.now().strftime("%Y%m%d-%H%M%S")
    machine = describe_machine()
    labels = ", ".join(phase.label for mode in phases.values() for phase in mode)
    load_average = machine["load_average_at_start"][0]
    say(f"{machine['cores']} cores, load average {load_average:.2f}; plan: {labels}")
    stop_on_signals()
    try:
        stack = start_stack(run_id, say, replicas=args.replicas)
    except RuntimeError as error:
        say(f"could not start: {error}")
        return 1
    summaries: list[str] = []
    ok = True
    try:
        profiled = [name for name in args.profile_services.split(",") if name]
        unknown = [name for name in profiled if name not in stack.children or name == "gateway"]
        if args.profile and unknown:
            python = sorted(name for name in stack.children if name != "gateway")
            raise RuntimeError(
                f"--profile-services {','.join(unknown)}: py-spy samples Python processes, "
                f"one of {', '.join(python)} (the gateway is Caddy, a Go program)"
            )
        context = Context(stack, sign_up(stack, users), args.settle_timeout, profiled)
        last = list(phases)[-1]
        for mode, mode_phases in phases.items():
            started_at = datetime.now().astimezone().isoformat(timespec="seconds")
            results = []
            for phase in mode_phases:
                sampled = args.profile and mode == last and phase is mode_phases[-1]
                profile = stamp if sampled else None
                results.append(asyncio.run(run_phase(context, phase, profile=profile)))
            say(f"{mode}: tijori audit")
            result: dict[str, Any] = {
                "mode": mode,
                "run_id": run_id,
                "started_at": started_at,
                "users": users,
                "machine": machine,
                "phases": results,
                "audit": audit(stack),
            }
            result["targets"] = report.targets(result)
            data, picture = report.write(result, stamp=stamp)
            say(f"wrote {data.relative_to(ROOT)} and {picture.relative_to(ROOT)}")
            ok = ok and result["targets"]["zero_errors"] and result["targets"]["audit_clean"]
            summaries.append(report.summary_line(result))
    except KeyboardInterrupt:
        say("interrupted: no results for the modes not finished")
        return 130
    except RuntimeError as error:
        say(f"failed: {error}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
        say("stopping the services")
        stack.stop()
    for line in summaries:
        print(line, flush=True)
    return 0 if ok else 1
