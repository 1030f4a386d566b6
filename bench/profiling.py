"""``--profile``: py-spy samples service processes while the load runs.

py-spy reads the interpreter's memory from outside (``--nonblocking``: it never pauses
the process), so the service runs unchanged. It writes collapsed stacks; from them this
module draws a flame graph (SVG, open it in a browser: hover for numbers) and counts the
functions and packages that hold the CPU when the process is not idle.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_RATE = 100
# a frame is ``function (path:line)``; py-spy shortens paths to the import path
FRAME_PATH = re.compile(r"\(([^()]+?)(?::\d+)?\)$")
ABSOLUTE = re.compile(r"(?:site-packages|lib/python3\.\d+|src)/(.+)$")


def py_spy() -> str | None:
    """The py-spy executable next to this interpreter, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Profiler:
    """One py-spy recording of one process."""

    name: str
    folded: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, pid: int, seconds: float) -> None:
        """Record ``pid`` for ``seconds`` (py-spy stops by itself)."""
        executable = py_spy()
        if executable is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - py-spy with our arguments
                [executable, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                 "--rate", str(SAMPLE_RATE), "--format", "raw", "--nonblocking",
                 "--output", str(self.folded)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        """Wait for py-spy, then write the flame graph and return the summary."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=15)
        if not self.folded.exists():
            said = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
            return {"service": self.name, "error": f"py-spy wrote nothing: {said.strip()}"}
        stacks = read_folded(self.folded)
        svg = self.folded.with_suffix(".svg")
        svg.write_text(flame_graph(stacks, title=f"{self.name}: py-spy, {SAMPLE_RATE} Hz"))
        return {"service": self.name, "folded": self.folded.name, "svg": svg.name} | summarize(
            stacks
        )


def read_folded(path: Path) -> Counter[tuple[str, ...]]:
    """Collapsed stacks (``frame;frame;frame count``) as counts per stack."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _package(frame: str) -> str:
    """``sqlalchemy``, ``tijori/wallets``, ``asyncio``... for a frame ``func (path:line)``."""
    found = FRAME_PATH.search(frame)
    if not found:
        return "other"
    path = found.group(1)
    if path.startswith("<frozen"):
        return "importlib/runpy (frozen)"
    if path.startswith("/"):
        inside = ABSOLUTE.search(path)
        path = inside.group(1) if inside else path.rsplit("/", 1)[-1]
    parts = path.removesuffix(".py").split("/")
    return "/".join(parts[:2]) if parts[0] == "tijori" and len(parts) > 2 else parts[0]


def _function(frame: str) -> str:
    """The frame without its line number: ``func (path)``."""
    return re.sub(r":\d+\)$", ")", frame)


def summarize(stacks: Counter[tuple[str, ...]], top: int = 15) -> dict[str, Any]:
    """Busy samples, the functions on top of the stack most often (self time) and the
    packages those functions belong to."""
    total = sum(stacks.values())
    busy = {stack: n for stack, n in stacks.items() if not _idle(stack)}
    busy_total = sum(busy.values()) or 1
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    tijori: Counter[str] = Counter()
    for stack, count in busy.items():
        own[_function(stack[-1])] += count
        packages[_package(stack[-1])] += count
        for frame in {_function(f) for f in stack if _package(f).startswith("tijori/")}:
            tijori[frame] += count
    return {
        "samples": total,
        "busy_share": round(sum(busy.values()) / (total or 1), 3),
        "top_functions": [
            {"function": name, "share_of_busy": round(n / busy_total, 3)}
            for name, n in own.most_common(top)
        ],
        "top_packages": [
            {"package": name, "share_of_busy": round(n / busy_total, 3)}
            for name, n in packages.most_common(top)
        ],
        # Tijori's own functions by the share of samples they are on the stack for
        "top_tijori_inclusive": [
            {"function": name, "share_of_busy": round(n / busy_total, 3)}
            for name, n in tijori.most_common(top + 10)
            if "tijori/cli.py" not in name and "tijori/__main__" not in name
        ][:top],
    }


def _idle(stack: tuple[str, ...]) -> bool:
    """A sample of a thread waiting: the event loop's select, a pool thread's wait."""
    leaf = stack[-1]
    return any(mark in leaf for mark in ("select (", "poll (", "wait (", "_worker (", "sleep ("))


@dataclass
class _Node:
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def flame_graph(stacks: Counter[tuple[str, ...]], *, title: str, width: int = 1600) -> str:
    """A plain SVG flame graph (root at the bottom, hover a frame for its samples)."""
    root = _Node()
    for stack, count in stacks.items():
        node = root
        node.count += count
        for frame in stack:
            node = node.children.setdefault(frame, _Node())
            node.count += count
    depth = _depth(root)
    row, total = 16, max(root.count, 1)
    height = (depth + 2) * row + 24
    boxes: list[str] = []

    def draw(node: _Node, x: float, level: int) -> None:
        for frame, child in sorted(node.children.items()):
            span = child.count / total * width
            if span >= 0.5:
                y = height - (level + 2) * row
                hue = 20 + zlib.crc32(_package(frame).encode()) % 40
                # cut before escaping, or an entity (``&lt;``) may be cut in half
                label = html.escape(frame[: int(span / 6.5)]) if span > 60 else ""
                share = 100 * child.count / total
                boxes.append(
                    f"<g><title>{html.escape(frame)} ({child.count} samples, {share:.1f}%)"
                    f'</title><rect x="{x:.1f}" y="{y}" width="{span:.1f}" height="{row - 1}" '
                    f'fill="hsl({hue},85%,60%)"/><text x="{x + 3:.1f}" y="{y + 11}">'
                    f"{label}</text></g>"
                )
                draw(child, x, level + 1)
            x += span

    draw(root, 0.0, 0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11"><text x="4" y="16" font-size="14">'
        f"{html.escape(title)}: {root.count} samples</text>{''.join(boxes)}</svg>\n"
    )


def _depth(node: _Node) -> int:
    return 1 + max((_depth(child) for child in node.children.values()), default=0)
