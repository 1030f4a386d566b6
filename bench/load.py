"""The load generator: its own process, talking to the gateway over loopback HTTP only.

    python -m bench.load signup --gateway URL --users N --run-id ID --out users.json
    python -m bench.load drive --gateway URL --users-file users.json --out records.json \
        (--rate R | --concurrency N) --duration SECONDS

``signup`` opens N accounts (``POST /api/users``, then ``POST /api/auth/token``) and
sets each one's transaction PIN (``PUT /api/users/me/pin``). ``drive`` pays between
random pairs of those users as the web client does: the PIN buys a payment token for
the payment (``POST /api/auth/payment-token``), then the transfer ``POST
/api/transactions`` carries it with its ``Idempotency-Key``; at a fixed rate (open
loop: each payment is started on schedule whether or not earlier ones have been
answered) or from N workers that each start the next payment as soon as the last is
answered (closed loop). Amounts are 1 to
50 paise, so the ₹100 promotional balance lasts. Transfers go over ``bench.client`` (a
lean keep-alive HTTP/1.1 client: httpx cost twenty times the CPU per request); sign-up
uses httpx. Every second it prints one JSON line of running totals; at the end it
writes every transfer to ``--out``. A transfer's accept latency is its own round trip
(as before payment tokens); the payment token's is kept apart (``payment_token_ms``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.client import Answer, Pool, ProtocolError, QueueTimeoutError

PASSWORD = "bench-password-1"  # noqa: S105 - throwaway accounts in the bench databases
PIN = "482916"  # every bench user's transaction PIN
REQUEST_TIMEOUT_SECONDS = 10.0
OPEN_LOOP_MAX_IN_FLIGHT = 2000
OPEN_LOOP_CONNECTIONS = 256
SIGNUP_CONCURRENCY = 8
ACCEPTED = "accepted"
REFUSED_FOR_FUNDS = "refused:insufficient_funds"


@dataclass(frozen=True)
class Account:
    """A benchmark user: who they are to the API, their bearer token and PIN."""

    user_id: str
    phone: str
    email: str
    token: str
    pin: str = PIN


@dataclass
class Tally:
    """Running totals of one drive, printed every second."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    in_flight: int = 0
    # (sent at, unix seconds; accept latency, ms; outcome; transaction id or "")
    records: list[tuple[float, float, str, str]] = field(default_factory=list)
    # how late the open loop sent requests against their schedule, ms
    lag_ms: list[float] = field(default_factory=list)
    # the round trip of each payment token asked for, ms
    token_ms: list[float] = field(default_factory=list)

    def line(self, elapsed: float) -> str:
        """The progress line the orchestrator reads."""
        return json.dumps(
            {
                "elapsed": round(elapsed, 3),
                "sent": self.sent,
                "accepted": self.accepted,
                "refused": self.refused,
                "errors": self.errors,
                "in_flight": self.in_flight,
            }
        )


def phone_of(run_id: str, number: int) -> str:
    """A valid Indian mobile number, distinct per run and user (``9RRRRNNNNN``)."""
    return f"9{int(run_id, 16) % 10_000:04d}{number:05d}"


async def sign_up(gateway: str, users: int, run_id: str) -> list[Account]:
    """Open ``users`` accounts through the gateway and log each one in."""
    gate = asyncio.Semaphore(SIGNUP_CONCURRENCY)
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:

        async def one(number: int) -> Account:
            email = f"bench-{run_id}-{number}@example.com"
            async with gate:
                created = await client.post(
                    "/api/users",
                    json={
                        "name": f"Bench User {number}",
                        "email": email,
                        "phone": phone_of(run_id, number),
                        "password": PASSWORD,
                    },
                )
                if created.status_code != 201:
                    raise RuntimeError(f"sign-up {number}: {created.status_code} {created.text}")
                token = await client.post(
                    "/api/auth/token", json={"username": email, "password": PASSWORD}
                )
                if token.status_code != 200:
                    raise RuntimeError(f"log-in {number}: {token.status_code} {token.text}")
                access = token.json()["access_token"]
                pin = await client.put(
                    "/api/users/me/pin",
                    json={"pin": PIN},
                    headers={"Authorization": f"Bearer {access}"},
                )
                if pin.status_code != 204:
                    raise RuntimeError(f"PIN {number}: {pin.status_code} {pin.text}")
            user = created.json()
            return Account(user["id"], user["phone"], email, access)

        return list(await asyncio.gather(*(one(number) for number in range(users))))


def _problem(answer: Answer) -> str:
    code = ""
    if answer.content_type.startswith("application/problem+json"):
        code = str(answer.json().get("code", ""))
    return f"http_{answer.status}" + (f"_{code}" if code else "")


def outcome_of(answer: Answer) -> tuple[str, str]:
    """``(outcome, transaction id)`` of an answer to ``POST /api/transactions``."""
    if answer.status == 202:
        return ACCEPTED, str(answer.json()["id"])
    outcome = _problem(answer)
    if outcome == "http_422_insufficient_funds":
        return REFUSED_FOR_FUNDS, ""  # the system said no, correctly: not an error
    return outcome, ""


async def transfer(client: Pool, accounts: list[Account], tally: Tally) -> None:
    """Pay between two random users, the PIN first, and record how the transfer went."""
    sender, receiver = random.sample(accounts, 2)
    paise = random.randint(1, 50)
    body = {"receiver": receiver.phone, "amount": f"0.{paise:02d}", "note": "bench"}
    key = uuid.uuid4().hex
    auth = {"Authorization": f"Bearer {sender.token}"}
    tally.sent += 1
    tally.in_flight += 1
    sent_at = time.time()
    started = time.perf_counter()
    transaction_id = ""
    try:
        confirmation = await client.post_json(
            "/api/auth/payment-token",
            {"pin": sender.pin, "amount": body["amount"], "receiver": body["receiver"]}
            | {"idempotency_key": key},
            headers=auth,
        )
        tally.token_ms.append((time.perf_counter() - started) * 1000)
        if confirmation.status != 200:
            outcome = f"payment_token_{_problem(confirmation)}"
        else:
            headers = auth | {
                "Idempotency-Key": key,
                "X-Payment-Token": str(confirmation.json()["payment_token"]),
            }
            sent_at = time.time()
            started = time.perf_counter()
            answer = await client.post_json("/api/transactions", body, headers=headers)
            outcome, transaction_id = outcome_of(answer)
    except QueueTimeoutError:
        outcome = "client_queue_timeout"  # all connections busy: never sent
    except TimeoutError:
        outcome = "timeout"
    except OSError:
        outcome = "connection_error"
    except ProtocolError:
        outcome = "protocol_error"
    except (ValueError, KeyError):
        outcome = "unreadable_answer"
    latency_ms = (time.perf_counter() - started) * 1000
    tally.in_flight -= 1
    if outcome == ACCEPTED:
        tally.accepted += 1
    elif outcome == REFUSED_FOR_FUNDS:
        tally.refused += 1
    else:
        tally.errors += 1
    tally.records.append((sent_at, latency_ms, outcome, transaction_id))


async def open_loop(
    client: Pool, accounts: list[Account], tally: Tally, *, rate: float, seconds: float
) -> None:
    """Send ``rate`` transfers a second on schedule for ``seconds``, answered or not."""
    started = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()
    for number in range(int(rate * seconds)):
        due = started + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tally.lag_ms.append(max(0.0, -delay) * 1000)
        if tally.in_flight >= OPEN_LOOP_MAX_IN_FLIGHT:
            tally.sent += 1
            tally.errors += 1
            tally.records.append((time.time(), 0.0, "client_backlog_full", ""))
            continue
        task = asyncio.create_task(transfer(client, accounts, tally))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT_SECONDS + 5)


async def closed_loop(
    client: Pool,
    accounts: list[Account],
    tally: Tally,
    *,
    concurrency: int,
    seconds: float,
) -> None:
    """``concurrency`` workers, each sending its next transfer when the last is answered."""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await transfer(client, accounts, tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def report_progress(tally: Tally, started: float) -> None:
    """Print the running totals every second until cancelled."""
    while True:
        await asyncio.sleep(1)
        print(tally.line(time.perf_counter() - started), flush=True)


async def drive(args: argparse.Namespace, accounts: list[Account]) -> dict[str, Any]:
    """Run one load phase; return what the orchestrator needs to measure it."""
    gateway = urlsplit(args.gateway)
    client = Pool(
        gateway.hostname or "127.0.0.1",
        gateway.port or 80,
        args.concurrency or OPEN_LOOP_CONNECTIONS,
        timeout_seconds=REQUEST_TIMEOUT_SECONDS,
    )
    tally = Tally()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started_at, started = time.time(), time.perf_counter()
    progress = asyncio.create_task(report_progress(tally, started))
    if args.rate:
        await open_loop(client, accounts, tally, rate=args.rate, seconds=args.duration)
    else:
        await closed_loop(
            client, accounts, tally, concurrency=args.concurrency, seconds=args.duration
        )
    progress.cancel()
    ended_at = time.time()
    print(tally.line(time.perf_counter() - started), flush=True)
    await client.close()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "started_at": started_at,
        "ended_at": ended_at,
        "cpu_seconds": round(cpu, 3),
        "lag_ms": tally.lag_ms,
        "payment_token_ms": tally.token_ms,
        "records": tally.records,
        "outcomes": dict(Counter(record[2] for record in tally.records)),
    }


def build_parser() -> argparse.ArgumentParser:
    """``python -m bench.load``'s two commands."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    signup = commands.add_parser("signup", help="open and log in the benchmark's users")
    signup.add_argument("--gateway", required=True)
    signup.add_argument("--users", type=int, required=True)
    signup.add_argument("--run-id", required=True)
    signup.add_argument("--out", type=Path, required=True)
    load = commands.add_parser("drive", help="send transfers for a while")
    load.add_argument("--gateway", required=True)
    load.add_argument("--users-file", type=Path, required=True)
    load.add_argument("--out", type=Path, required=True)
    load.add_argument("--duration", type=float, required=True)
    how = load.add_mutually_exclusive_group(required=True)
    how.add_argument("--rate", type=float, help="open loop: transfers offered per second")
    how.add_argument("--concurrency", type=int, help="closed loop: transfers in flight")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``signup`` or ``drive``."""
    args = build_parser().parse_args(argv)
    run = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        pass
    if args.command == "signup":
        accounts = run(sign_up(args.gateway, args.users, args.run_id))
        args.out.write_text(json.dumps([account.__dict__ for account in accounts]))
        return 0
    accounts = [Account(**item) for item in json.loads(args.users_file.read_text())]
    result = run(drive(args, accounts))
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
