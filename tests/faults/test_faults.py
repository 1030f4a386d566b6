"""Faults while money moves: after each, every accepted transfer is settled, no paisa is
lost or made, the audit is clean and every party got its e-mail.

Each test runs a steady stream of transfers (`Traffic`), breaks one thing in the middle,
lets the stream run on, then waits for quiescence and checks everything. The figures
land in test-artifacts/reliability.json; docs/reliability.md reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.breaking import restart, restart_kafka
from tests.faults.traffic import Traffic, mail_counts, wait_until_mailed, wait_until_settled
from tests.integration.conftest import Person
from tests.integration.stack import ROOT, Stack
from tijori.common.bus import DEFAULT_PARTITIONS

INFRA = str(ROOT / "infra" / "up.sh")
Fault = Callable[[], Awaitable[None]]


async def _sh(*command: str, timeout: float = 120) -> None:
    result = await asyncio.to_thread(
        subprocess.run, list(command), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


Scenario = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def scenario(
    fault_stack: Stack,
    people: list[Person],
    engines: dict[str, AsyncEngine],
    report: dict[str, Any],
) -> Scenario:
    """Run a named fault against the steady stream, on this suite's stack and people."""

    async def run(name: str, fault: Fault, **timing: float) -> dict[str, Any]:
        return await _scenario(
            name, fault, stack=fault_stack, people=people, engines=engines, report=report, **timing
        )

    return run


async def _restart_the_dead(stack: Stack, deaths: list[str], done: asyncio.Event) -> None:
    while not done.is_set():
        for name, process in list(stack.processes.items()):
            if process.poll() is not None and stack.processes.get(name) is process:
                deaths.append(f"{name} exited with {process.returncode}: {stack.log(name)[-600:]}")
                stack.processes.pop(name)
                stack.start(name)
        await asyncio.sleep(0.5)


async def _entries_per_transaction(wallets: AsyncEngine, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with wallets.connect() as connection:
        for start in range(0, len(ids), 500):
            rows = await connection.execute(
                text(
                    "SELECT reference, COUNT(*) FROM ledger_entries WHERE reference IN :ids "
                    "GROUP BY reference"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": ids[start : start + 500]},
            )
            counts.update({str(reference): int(count) for reference, count in rows.all()})
    return counts


async def _balances(wallets: AsyncEngine, people: list[Person]) -> list[int]:
    async with wallets.connect() as connection:
        rows = await connection.execute(
            text("SELECT balance_paise FROM wallets WHERE user_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": [person.id for person in people]},
        )
        return [int(value) for value in rows.scalars()]


async def _scenario(
    name: str,
    fault: Fault,
    *,
    stack: Stack,
    people: list[Person],
    engines: dict[str, AsyncEngine],
    report: dict[str, Any],
    before: float = 2.0,
    after: float = 4.0,
) -> dict[str, Any]:
    # like `tijori up` in production: a process that dies on its own is restarted, and
    # reported (with the end of its log), never silently; planned stops are not counted
    deaths: list[str] = []
    watching = asyncio.Event()
    watchdog = asyncio.create_task(_restart_the_dead(stack, deaths, watching))
    traffic = Traffic(stack.gateway, people)
    traffic.start()
    await asyncio.sleep(before)
    accepted_before_fault = len(traffic.accepted)
    started = time.monotonic()
    await fault()
    fault_seconds = time.monotonic() - started
    await asyncio.sleep(after)
    await traffic.stop()
    watching.set()
    await watchdog

    ids = list(traffic.accepted)
    assert ids, "no transfer was accepted at all"
    settle_started = time.monotonic()
    statuses = await wait_until_settled(engines["transactions"], ids)
    settled_in = time.monotonic() - settle_started
    await wait_until_mailed(engines["notifications"])

    entries = await _entries_per_transaction(engines["wallets"], ids)
    # lost: accepted, yet no status or SUCCESS without its pair; duplicated: moved twice
    lost = sum(
        1
        for txn_id in ids
        if txn_id not in statuses or (statuses[txn_id] == "SUCCESS" and entries.get(txn_id, 0) == 0)
    )
    duplicated = sum(1 for txn_id in ids if entries.get(txn_id, 0) > 2)
    moved_on_failure = sum(
        1 for txn_id in ids if statuses.get(txn_id) == "FAILED" and entries.get(txn_id, 0)
    )

    balances = await _balances(engines["wallets"], people)
    assert sum(balances) == len(people) * 10_000, f"money changed: {sum(balances)}"
    assert min(balances) >= 0
    audit = await asyncio.to_thread(stack.tijori, "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr

    expected: Counter[tuple[str, str]] = Counter()
    for txn_id, status in statuses.items():
        kinds = (
            ("TRANSFER_SENT", "TRANSFER_RECEIVED") if status == "SUCCESS" else ("TRANSFER_FAILED",)
        )
        for kind in kinds:
            expected[(txn_id, kind)] = 1
    # a restarted consumer rejoins its group before it queues the last e-mails: wait for them
    deadline = time.monotonic() + 120
    while True:
        counts = mail_counts(stack.mails_to("@"))
        missing = sum(1 for key in expected if counts[key] == 0)
        if missing == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
        await wait_until_mailed(engines["notifications"])
    duplicated_mail = sum(counts[key] - 1 for key in expected if counts[key] > 1)
    outcome = Counter(statuses.values())
    figures = {
        "accepted": len(ids),
        "accepted_before_fault": accepted_before_fault,
        "accepted_during_and_after_fault": len(ids) - accepted_before_fault,
        "success": outcome["SUCCESS"],
        "failed": outcome["FAILED"],
        "refused_up_front": dict(traffic.refused),
        "client_retries": traffic.retried,
        "client_gave_up": traffic.gave_up,
        "fault_seconds": round(fault_seconds, 1),
        "settled_within_seconds": round(settled_in, 1),
        "lost": lost,
        "duplicated": duplicated,
        "failed_but_moved": moved_on_failure,
        "emails_expected": len(expected),
        "emails_missing": missing,
        "emails_duplicated": duplicated_mail,
        "unplanned_process_exits": deaths,
    }
    report[name] = figures
    assert (lost, duplicated, moved_on_failure) == (0, 0, 0), figures
    assert traffic.gave_up == 0, figures
    assert missing == 0, figures
    return figures


@pytest.mark.parametrize("service", ["users", "wallets", "transactions", "notifications"])
async def test_kill_9_a_service_mid_stream_and_restart_it(
    service: str,
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    async def fault() -> None:
        await restart(fault_stack, service)

    await scenario(
        f"kill -9 {service}",
        fault,
    )


async def test_stop_and_restart_the_kafka_broker(
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    async def fault() -> None:
        await restart_kafka(fault_stack)

    await scenario(
        "restart Kafka",
        fault,
    )


async def test_restart_mariadb(
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    async def fault() -> None:
        await _sh("mariadb-admin", "--protocol=socket", "shutdown")
        await asyncio.sleep(2)
        await _sh(INFRA, "mariadb")

    await scenario(
        "restart MariaDB",
        fault,
    )


async def test_restart_redis_which_is_never_a_source_of_truth(
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    async def fault() -> None:
        await _sh("redis-cli", "-p", "6379", "shutdown", "nosave")
        await asyncio.sleep(3)
        await _sh(INFRA, "redis")

    await scenario(
        "restart Redis",
        fault,
    )


async def test_stop_the_smtp_server_for_a_while(
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    async def fault() -> None:
        assert fault_stack.smtp is not None
        port = fault_stack.smtp.port
        fault_stack.smtp.stop()
        await asyncio.sleep(6)
        fault_stack.smtp = Controller(Mailbox(fault_stack.maildir), hostname="127.0.0.1", port=port)
        fault_stack.smtp.start()

    figures = await scenario(
        "SMTP down for 6 s",
        fault,
    )
    assert figures["emails_duplicated"] == 0


async def _outbox(engine: AsyncEngine, topic: str, limit: int) -> list[tuple[str, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT `key`, body FROM outbox WHERE topic = :t ORDER BY id DESC LIMIT :n"),
            {"t": topic, "n": limit},
        )
        return [(str(key), str(body)) for key, body in rows.all()]


async def test_a_slice_of_events_twice_and_a_topic_replayed_from_the_beginning(
    fault_stack: Stack,
    engines: dict[str, AsyncEngine],
    scenario: Scenario,
) -> None:
    bootstrap = fault_stack.env["TIJORI_KAFKA_BOOTSTRAP"]
    prefix = fault_stack.env["TIJORI_KAFKA_TOPIC_PREFIX"]

    async def fault() -> None:
        slices = {
            "transaction.initiated": await _outbox(
                engines["transactions"], "transaction.initiated", 40
            ),
            "transfer.completed": await _outbox(engines["wallets"], "transfer.completed", 40),
            "transaction.completed": await _outbox(
                engines["transactions"], "transaction.completed", 40
            ),
        }
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for topic, rows in slices.items():
                for key, body in rows:
                    await producer.send_and_wait(prefix + topic, body.encode(), key=key.encode())
        finally:
            await producer.stop()
        # wallets reads transaction.initiated (and user.created) again from offset 0
        await asyncio.to_thread(fault_stack.stop, "wallets")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=prefix + "wallets", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(prefix + topic, partition)
                for topic in ("transaction.initiated", "user.created")
                for partition in range(DEFAULT_PARTITIONS)
            ]
            consumer.assign(partitions)
            await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in partitions})
        finally:
            await consumer.stop()
        fault_stack.start("wallets")
        await asyncio.to_thread(fault_stack.wait_ready, "wallets", 90)

    await scenario(
        "duplicates and a replayed topic",
        fault,
        after=8.0,
    )
    assert fault_stack.log("wallets").count("skipped duplicate event") > 40


async def test_two_wallets_replicas_with_a_rebalance_in_the_middle(
    fault_stack: Stack,
    scenario: Scenario,
) -> None:
    log = (fault_stack.workdir / "wallets-replica.log").open("ab")
    replica = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tijori",
            "serve",
            "wallets",
            "--port",
            str(fault_stack.port("wallets") + 50),
        ],
        env=fault_stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    async def fault() -> None:
        await asyncio.sleep(4)  # both replicas share the partitions now
        await restart(fault_stack, "wallets", down_for=3)  # the group rebalances twice

    try:
        await scenario("two wallets replicas, one killed", fault)
    finally:
        replica.terminate()
        replica.wait(timeout=20)
    assert "wallets" in (fault_stack.workdir / "wallets-replica.log").read_text()


async def test_a_transactions_replica_killed_under_load_behind_the_gateway(
    fault_stack: Stack,
    people: list[Person],
    scenario: Scenario,
) -> None:
    """Two transactions processes behind Caddy, one killed with -9 while transfers flow.

    Requests in flight on the killed one get no answer or a 502, and their clients retry
    with the same Idempotency-Key; a request that was never delivered is sent to the
    other replica by the gateway itself, so a client starting while one is down sees no
    error at all.
    """
    port = fault_stack.port("transactions") + 50
    with (fault_stack.workdir / "transactions-replica.log").open("ab") as log:
        replica = subprocess.Popen(
            [sys.executable, "-m", "tijori", "serve", "transactions", "--port", str(port)],
            env=fault_stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    single = fault_stack.env["TIJORI_TRANSACTIONS_URL"]
    while_down: list[Traffic] = []

    async def fault() -> None:
        await asyncio.to_thread(fault_stack.stop, "transactions", sig=signal.SIGKILL)
        probe = Traffic(fault_stack.gateway, people, clients=1, pause=0.3)
        probe.start()
        await asyncio.sleep(3)  # the replica alone
        await probe.stop()
        while_down.append(probe)
        fault_stack.start("transactions")
        await asyncio.to_thread(fault_stack.wait_ready, "transactions", 90)

    try:
        await _wait_answering(f"http://127.0.0.1:{port}/ready")
        fault_stack.env["TIJORI_TRANSACTIONS_URL"] = f"{single},http://127.0.0.1:{port}"
        await asyncio.to_thread(fault_stack.restart_edge)
        figures = await scenario("a transactions replica killed behind the gateway", fault)
        async with httpx.AsyncClient() as client:
            served = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        fault_stack.env["TIJORI_TRANSACTIONS_URL"] = single
        replica.terminate()
        replica.wait(timeout=20)
        await asyncio.to_thread(fault_stack.restart_edge)
    probe = while_down[0]
    assert probe.accepted, "no transfer was accepted while one replica was down"
    assert (probe.retried, probe.gave_up) == (0, 0), "the gateway let a client see the dead one"
    figures["accepted_while_one_replica_was_down"] = len(probe.accepted)
    # the replica took its share of the whole stream, not only of the outage
    accepted_by_replica = sum(
        sample.value
        for family in text_string_to_metric_families(served)
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels == {"handler": "/api/transactions", "method": "POST", "status": "2xx"}
    )
    assert accepted_by_replica > len(probe.accepted), served


async def _wait_answering(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise AssertionError(f"{url} did not become ready")
