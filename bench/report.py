"""What a run leaves behind: JSON, a PNG chart and a one-line summary per mode.

Files go to ``bench/results/``: ``<stamp>-<mode>.json`` and ``.png``, copied to
``latest-<mode>.json`` and ``latest-<mode>.png``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# the benchmark's targets (GitHub issue #7)
TARGET_SETTLED_PER_S = 1000
TARGET_SUSTAINED_S = 60
TARGET_RATE = 300
TARGET_ACCEPT_P99_MS = 50
TARGET_SETTLE_P99_MS = 500


def targets(result: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's targets this run's mode could show, and whether it met them."""
    met: dict[str, bool] = {}
    phases = result["phases"]
    if result["mode"] == "closed":
        met["settled_1000_per_s_for_60_s"] = any(
            phase["settled_per_s"] >= TARGET_SETTLED_PER_S
            and phase["duration_s"] >= TARGET_SUSTAINED_S - 1
            for phase in phases
        )
    for phase in phases:
        if phase.get("rate") == TARGET_RATE:
            accept_p99 = phase["accept_ms"]["p99"]
            settle_p99 = phase["settle_ms"]["p99"]
            met["accept_p99_under_50_ms_at_300_per_s"] = (
                accept_p99 is not None and accept_p99 < TARGET_ACCEPT_P99_MS
            )
            met["settle_p99_under_500_ms_at_300_per_s"] = (
                settle_p99 is not None and settle_p99 < TARGET_SETTLE_P99_MS
            )
    met["zero_errors"] = all(phase["error_count"] == 0 for phase in phases)
    met["audit_clean"] = bool(result["audit"]["clean"])
    return met


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def summary_line(result: dict[str, Any]) -> str:
    """``bench closed: 412 settled/s sustained (60 s), accept p99 38 ms, ...``."""
    phases = result["phases"]
    errors = sum(phase["error_count"] for phase in phases)
    audit = "audit clean" if result["audit"]["clean"] else "AUDIT DIRTY"
    tail = f"errors {errors}" + ("" if errors == 0 else " (SEE JSON)") + f", {audit}"
    if result["mode"] == "closed":
        parts = [
            f"{phase['settled_per_s']:.0f} settled/s sustained ({phase['duration_s']:.0f} s, "
            f"{phase['concurrency']} in flight), {phase['accepted_per_s']:.0f} accepted/s, "
            f"accept p99 {_ms(phase['accept_ms']['p99'])}, "
            f"settle p99 {_ms(phase['settle_ms']['p99'])}"
            for phase in phases
        ]
    else:
        parts = [
            f"{phase['rate']:g}/s offered: {phase['settled_per_s']:.0f} settled/s, "
            f"accept p99 {_ms(phase['accept_ms']['p99'])}, "
            f"settle p99 {_ms(phase['settle_ms']['p99'])}"
            for phase in phases
        ]
    return f"bench {result['mode']}: " + "; ".join(parts) + f"; {tail}"


def write(result: dict[str, Any], *, stamp: str) -> tuple[Path, Path]:
    """Write the JSON and the chart, and their ``latest-`` copies; return both paths."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    mode = result["mode"]
    data = RESULTS / f"{stamp}-{mode}.json"
    data.write_text(json.dumps(result, indent=1) + "\n")
    picture = RESULTS / f"{stamp}-{mode}.png"
    chart(result, picture)
    shutil.copyfile(data, RESULTS / f"latest-{mode}.json")
    shutil.copyfile(picture, RESULTS / f"latest-{mode}.png")
    return data, picture


def chart(result: dict[str, Any], path: Path) -> None:
    """Throughput over time above; latency percentiles below (per offered rate for the
    open loop, per second for the closed loop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    phases = result["phases"]
    closed = result["mode"] == "closed"
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12.5, 8.5), sharex=closed)
    origin = phases[0]["series"]["start"]
    labels = blended_transform_factory(top.transData, top.transAxes)
    lines = (
        ("sent", "sent/s", {"color": "0.6", "ls": "--"}),
        ("accepted", "accepted/s", {"color": "tab:blue"}),
        ("settled", "settled/s", {"color": "tab:green"}),
        ("errors", "errors/s", {"color": "tab:red", "lw": 0.8}),
    )
    for number, phase in enumerate(phases):
        series = phase["series"]
        offset = series["start"] - origin
        seconds = [offset + i + 0.5 for i in range(len(series["sent"]))]
        for key, label, style in lines:
            top.plot(seconds, series[key], label=label if number == 0 else None, **style)
        top.axvspan(offset, offset + phase["duration_s"], color="tab:blue", alpha=0.05)
        what = (
            f"{phase['rate']:g}/s offered"
            if "rate" in phase
            else f"{phase['concurrency']} in flight"
        )
        top.text(offset + 0.5, 0.96, what, transform=labels, fontsize=8, va="top")
    if not closed:
        top.set_xlabel("seconds since the load started")
    top.set_ylabel("transfers per second")
    top.set_title("Throughput (shaded: load running; after it: draining)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if result["mode"] == "open":
        _latency_by_rate(bottom, phases)
    else:
        _latency_over_time(bottom, phases, origin)
    figure.suptitle(summary_line(result), fontsize=8.5, wrap=True)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _latency_by_rate(axes: Any, phases: list[dict[str, Any]]) -> None:
    rates = [phase["rate"] for phase in phases]
    positions = list(range(len(rates)))
    styles = {"p50": ":", "p95": "--", "p99": "-"}
    for kind, colour in (("accept_ms", "tab:blue"), ("settle_ms", "tab:green")):
        for quantile, style in styles.items():
            values = [phase[kind][quantile] for phase in phases]
            axes.plot(
                positions,
                [float("nan") if v is None else v for v in values],
                ls=style,
                marker="o",
                color=colour,
                label=f"{kind.split('_')[0]} {quantile}",
            )
    axes.axhline(TARGET_ACCEPT_P99_MS, color="tab:blue", alpha=0.3, lw=0.8)
    axes.axhline(TARGET_SETTLE_P99_MS, color="tab:green", alpha=0.3, lw=0.8)
    axes.set_xticks(positions, [f"{rate:g}/s" for rate in rates])
    axes.set_xlabel("offered rate (faint lines: the p99 targets, 50 ms and 500 ms)")
    _latency_axis(axes, "Latency by offered rate")


def _latency_over_time(axes: Any, phases: list[dict[str, Any]], origin: float) -> None:
    for number, phase in enumerate(phases):
        series = phase["series"]
        offset = series["start"] - origin
        seconds = [offset + i + 0.5 for i in range(len(series["accept_p99_ms"]))]
        first = number == 0
        for key, colour, label in (
            ("accept_p99_ms", "tab:blue", "accept p99 (by second answered)"),
            ("settle_p99_ms", "tab:green", "settle p99 (by second settled)"),
        ):
            values = [float("nan") if v is None else v for v in series[key]]
            axes.plot(seconds, values, color=colour, label=label if first else None)
    axes.set_xlabel("seconds since the load started")
    _latency_axis(axes, "Latency over time")


def _latency_axis(axes: Any, title: str) -> None:
    axes.set_yscale("log")
    axes.set_ylabel("milliseconds (log)")
    axes.set_title(title)
    axes.grid(alpha=0.3, which="both")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
