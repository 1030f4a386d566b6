"""What `tijori up` starts: every process in order, replicas on their own ports, and the
gateway told where each one is."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tijori.common.config import CommonSettings
from tijori.gateway.config import GatewaySettings
from tijori.supervisor import PUMP_BYTES, Child, Supervisor, _pump, parse_replicas


def _supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **replicas: int) -> Supervisor:
    for key in ("TIJORI_USERS_URL", "TIJORI_TRANSACTIONS_URL", "TIJORI_WORKER_URLS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TIJORI_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    settings = CommonSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9")
    return Supervisor(settings, gateway_port=8080, replicas=replicas)


def test_replicas_listen_a_hundred_ports_apart_and_the_gateway_balances_across_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor = _supervisor(tmp_path, monkeypatch, transactions=2, wallets=2)
    names = [child.name for child in supervisor.services]
    assert names == [
        "sandbox",
        "users",
        "wallets",
        "wallets-2",
        "transactions",
        "transactions-2",
        "transactions-worker",
        "notifications",
        "payments",
        "aggregator",
        "gateway",
    ]
    ports = {
        child.name: child.command[child.command.index("--port") + 1]
        for child in supervisor.services
    }
    assert (ports["wallets-2"], ports["transactions-2"], ports["gateway"]) == (
        "8182",
        "8183",
        "8080",
    )
    assert (
        supervisor.env["TIJORI_TRANSACTIONS_URL"] == "http://127.0.0.1:8083,http://127.0.0.1:8183"
    )
    assert json.loads(supervisor.env["TIJORI_WORKER_URLS"]) == {
        "transactions-worker": "http://127.0.0.1:8085"
    }
    monkeypatch.setenv("TIJORI_TRANSACTIONS_URL", supervisor.env["TIJORI_TRANSACTIONS_URL"])
    monkeypatch.setenv("TIJORI_WORKER_URLS", supervisor.env["TIJORI_WORKER_URLS"])
    targets = GatewaySettings().ready_targets()
    assert {"transactions-1", "transactions-2", "transactions-worker"} <= set(targets)
    # the embedded broker's loss restarts every process with a database, replicas too
    assert {"wallets-2", "transactions-2"} <= supervisor.database_processes


def test_the_gateway_and_the_aggregator_are_one_process_each() -> None:
    with pytest.raises(ValueError, match="no process 'gateway'"):
        parse_replicas("gateway=2")
    with pytest.raises(ValueError, match="from 1 to 9"):
        parse_replicas("transactions=0")
    assert parse_replicas("transactions=2, transactions-worker=3") == {
        "transactions": 2,
        "transactions-worker": 3,
    }


def test_a_port_offset_moves_every_port_so_a_second_tijori_runs_beside_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("TIJORI_GATEWAY_METRICS_PORT", "TIJORI_SANDBOX_PORT", "TIJORI_PUBLIC_URL"):
        monkeypatch.delenv(key, raising=False)
    default = _supervisor(tmp_path, monkeypatch)
    moved = Supervisor(
        CommonSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9"),
        gateway_port=28080,
        replicas={"transactions": 2},
        port_offset=20000,
    )

    def ports(supervisor: Supervisor) -> dict[str, int]:
        return {
            child.name: int(child.command[child.command.index("--port") + 1])
            for child in supervisor.services
        }

    before, after = ports(default), ports(moved)
    assert after.pop("transactions-2") == 28183
    assert after == {name: port + 20000 for name, port in before.items()}
    assert moved.env["TIJORI_TRANSACTIONS_URL"] == "http://127.0.0.1:28083,http://127.0.0.1:28183"
    assert moved.env["TIJORI_GATEWAY_METRICS_PORT"] == "28089"
    assert moved.env["TIJORI_PUBLIC_URL"] == "http://127.0.0.1:28080"
    assert moved.env["TIJORI_SANDBOX_WEBHOOK_URL"].startswith("http://127.0.0.1:28080/")


async def test_a_child_shares_the_supervisors_session_so_its_cpu_priority_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux schedules each session as one group (autogroup): a child in a session of
    its own would get as much CPU as the request path whatever its nice value (bench
    runs through `tijori up` settled half as many transfers per second so). Its own
    process group keeps Ctrl-C from reaching it before the supervisor stops it."""
    supervisor = _supervisor(tmp_path, monkeypatch)

    async def never() -> bool:
        return False

    child = Child("sleeper", ["sleep", "30"], never)
    await supervisor.spawn(child)
    assert child.process is not None
    try:
        pid = child.process.pid
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid != os.getpgid(0)
    finally:
        await supervisor.terminate(child)


async def test_a_childs_output_is_relayed_line_by_line_after_its_prefix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = asyncio.StreamReader()
    for piece in (b"one\ntw", b"o\nthree ", "r\u00e9".encode(), b"\n", b"x" * (PUMP_BYTES + 10)):
        stream.feed_data(piece)
    stream.feed_data(b"\nlast words")
    stream.feed_eof()
    await _pump("users", stream)
    lines = capsys.readouterr().out.splitlines()
    prefix = "\033[36m              users |\033[0m "
    assert all(line.startswith(prefix) for line in lines)
    said = [line.removeprefix(prefix) for line in lines]
    assert said[:3] == ["one", "two", "three r\u00e9"]
    assert "".join(said[3:-1]) == "x" * (PUMP_BYTES + 10)  # a line too long is cut, not lost
    assert said[-1] == "last words"
