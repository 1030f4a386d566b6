"""What the fault suite breaks: a service killed and started again, Kafka restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from tests.integration.stack import Stack
from tijori.common.bus import KafkaBus


async def restart(
    stack: Stack, service: str, *, sig: int = signal.SIGKILL, down_for: float = 1.0
) -> None:
    """Stop ``service`` (kill -9 by default), wait, start it again and wait until ready."""
    await asyncio.to_thread(stack.stop, service, sig=sig)
    await asyncio.sleep(down_for)
    stack.start(service)
    await asyncio.to_thread(stack.wait_ready, service, 90)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. A broker an earlier restart started is this
    process's child: once it exits it stays a zombie, its ``/proc`` entry still there,
    until it is reaped, which this does."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not ours: started by infra/up.sh
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def restart_kafka(stack: Stack) -> None:
    """Stop the very broker that runs and start it again (same configuration and data),
    however it was started; return once it answers."""
    found = subprocess.run(
        ["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True, check=False
    )
    pid = int(found.stdout.split()[0])
    command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    cwd = Path(f"/proc/{pid}/cwd").resolve()
    os.kill(pid, signal.SIGTERM)
    for _ in range(120):
        if not _alive(pid):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    with (stack.workdir / "kafka-restarted.log").open("ab") as log:
        subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    bus = KafkaBus(stack.env["TIJORI_KAFKA_BOOTSTRAP"])
    for _ in range(120):
        try:
            await bus.ping()
            return
        except Exception:
            await asyncio.sleep(0.5)
    raise AssertionError("Kafka did not come back")
