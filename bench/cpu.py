"""Where the machine's CPU went during a phase, from ``/proc`` (Linux only).

Each Tijori service, the load generator, MariaDB, Kafka and Redis are read from their
``/proc/<pid>/stat``; whatever else ran on the machine (another test suite, say) is the
machine's busy time less theirs. Reading ``/proc`` costs nothing the system would notice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` so far (0 if it is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle, so far."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(value) for value in first[1:9]]
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


def infra_pids() -> dict[str, int]:
    """The process ids of MariaDB, Kafka and Redis, found by name."""
    found: dict[str, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            command = (entry / "cmdline").read_bytes() if name == "java" else b""
        except OSError:
            continue
        if name == "mariadbd":
            found["mariadb"] = int(entry.name)
        elif name == "redis-server":
            found["redis"] = int(entry.name)
        elif name == "java" and b"kafka" in command:
            found["kafka"] = int(entry.name)
    return found


class CpuMeter:
    """CPU seconds per named process between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.machine_before = 0.0

    def start(self) -> None:
        """Take the first reading."""
        self.before = {name: process_seconds(pid) for name, pid in self.pids.items()}
        self.machine_before = machine_busy_seconds()

    def stop(self, seconds: float) -> dict[str, Any]:
        """Share of one core each process used over ``seconds`` since ``start()``."""
        used = {
            name: max(0.0, process_seconds(pid) - self.before[name])
            for name, pid in self.pids.items()
        }
        busy = machine_busy_seconds() - self.machine_before
        span = max(seconds, 1e-9)
        return {
            "cores": os.cpu_count(),
            "machine_busy_cores": round(busy / span, 2),
            "cores_by_process": {name: round(value / span, 2) for name, value in used.items()},
            "other_processes_cores": round(max(0.0, busy - sum(used.values())) / span, 2),
        }
