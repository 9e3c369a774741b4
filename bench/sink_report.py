"""bench.sink's figures and how they read: one variant's measurement (`Figures`), the
Markdown table, the issue's floors (b >= 3 x c, b/a >= 0.3, peak RSS of b under 1 GiB,
every row written once) and the text report printed after the run.

Pure: figures in, text out. Standard library only, like bench.harness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import sink_profile
from bench.harness import GIB, Usage


@dataclass
class Figures:
    """One variant's measurement."""

    variant: str
    label: str
    events: int
    window_s: float = float("nan")
    cpu_s: float = float("nan")  # user+sys inside the window
    cpu_total_s: float = float("nan")  # user+sys over the whole process (start-up and shutdown too)
    main_cpu_s: float = float("nan")  # user+sys of the main thread (the consume loop) inside the window
    peak_rss_bytes: int = 0
    rows_written: int | None = None
    verified: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    other_cpu_s: float = 0.0  # CPU time of processes other than the variant, the broker and us
    kernel_cpu_s: float = 0.0  # CPU time of kernel threads and interrupts meanwhile (e.g. writeback)

    @property
    def events_per_s(self) -> float:
        return self.events / self.window_s if self.window_s > 0 else float("nan")


def usage_into(fig: Figures, usage: Usage) -> None:
    fig.cpu_total_s = usage.cpu_total_s
    fig.peak_rss_bytes = max(fig.peak_rss_bytes, usage.peak_rss_bytes)


def _maybe(seconds: float) -> str:
    return "" if seconds != seconds else f"{seconds:.1f}"  # nan: not measured (a, c)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def table(figures: Sequence[Figures]) -> str:
    lines = [
        "| path | events/s | window s | CPU s | main thread CPU s | CPU s (process) | peak RSS "
        "| rows written | other CPU s | kernel CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        if f.error and f.window_s != f.window_s:  # nan: no figures
            lines.append(f"| {f.variant}  {f.label} | FAILED | | | | | | {f.error.splitlines()[0]} | | |")
            continue
        rows = "" if f.rows_written is None else f"{f.rows_written:,}"
        lines.append(
            f"| {f.variant}  {f.label} | ~{f.events_per_s / 1000:,.0f}k | {f.window_s:.2f} | {f.cpu_s:.1f} "
            f"| {_maybe(f.main_cpu_s)} | {f.cpu_total_s:.1f} | {_mb(f.peak_rss_bytes)} | {rows} "
            f"| {f.other_cpu_s:.1f} | {f.kernel_cpu_s:.1f} |"
        )
    return "\n".join(lines)


def floors(by: dict[str, Figures], sink: str) -> list[dict[str, Any]]:
    """The issue's floors for the sink row `sink` (b, or t for the tuned row)."""
    b, a, c = by.get(sink), by.get("a"), by.get("c")
    checks: list[dict[str, Any]] = []
    if b is None or b.error:
        return checks
    if a is not None and not a.error:
        ratio = b.events_per_s / a.events_per_s
        checks.append({"name": f"{sink}/a", "value": round(ratio, 3), "floor": ">= 0.3", "met": ratio >= 0.3})
    if c is not None and not c.error:
        ratio = b.events_per_s / c.events_per_s
        checks.append({"name": f"{sink}/c", "value": round(ratio, 2), "floor": ">= 3", "met": ratio >= 3})
    rss = b.peak_rss_bytes
    checks.append({"name": f"peak RSS of {sink}", "value": rss, "floor": "< 1 GiB", "met": rss < GIB})
    correct = not b.verified.startswith("ROWS WRONG")
    checks.append({"name": f"rows of {sink}", "value": b.rows_written, "floor": "== events", "met": correct})
    return checks


def _describe(check: dict[str, Any]) -> str:
    value = check["value"]
    shown = (
        _mb(value) if check["name"].startswith("peak") else f"{value:,}" if isinstance(value, int) else value
    )
    verdict = "met" if check["met"] else "MISSED"
    return f"{check['name']} = {shown}  (floor {check['floor']}: {verdict})"


def _describe_batches(f: dict[str, Any]) -> str:
    d = f["details"]
    cuts = ", ".join(f"{n} by {reason}" for reason, n in d["cuts"].items())
    text = (
        f"{f['variant']} batches: {d['batches']} ({cuts}), {d['rows_per_batch_mean']:,} rows on average, "
        f"commit {d['batch_commit_s_mean']:.2f} s mean / {d['batch_commit_s_max']:.2f} s max, "
        f"{d['files']} files, {d['parquet_bytes'] / 1e6:.1f} MB of Parquet"
    )
    if d.get("bulk_records") and d["cuts"].get("age"):
        tail = f["events"] - d["bulk_records"]
        text += (
            f"; the batches cut by count or bytes ran at ~{d['bulk_events_per_s']:,}/s "
            f"({d['bulk_records']:,} records in {d['bulk_window_s']:.1f} s), the last {tail:,} "
            f"waited for the age cut (max_latency_s)"
        )
    return text


def report(result: dict[str, Any]) -> str:
    out = [
        f"{result['events']:,} order-item events (~{result['record_bytes_mean']:.0f} B each with key and "
        f"headers, value ~{result['value_bytes_mean']:.0f} B) in a {result['partitions']}-partition topic "
        f"on the local broker; {result['machine']['cpus']} CPUs ({result['machine']['cpu']}); one process "
        "per variant; events/s over the window first record consumed -> last Parquet file written. "
        f"keystone_nexus sources digest {result['code_digest']}.",
        "",
        result["markdown"],
        "",
    ]
    if result["code_changed_during_run"]:
        out.append(
            "THE keystone_nexus SOURCES CHANGED DURING THE RUN: rows may have measured different code."
        )
    for f in result["figures"]:
        if f["details"].get("batches"):
            out.append(_describe_batches(f))
        if f["error"]:
            out.append(f"{f['variant']} FAILED: {f['error']}")
        elif f["verified"]:
            out.append(f"{f['variant']} rows: {f['verified']}")
    busy = [f"{f['variant']} ({f['other_cpu_s']:.0f} s)" for f in result["figures"] if f["other_cpu_s"] > 2.0]
    out.append(
        "other CPU s: CPU time other processes used while the variant ran (not the variant, the broker "
        "or the benchmark); kernel CPU s: kernel threads and interrupts meanwhile (writeback of the "
        "files written, among others)"
        + (f"; THE MACHINE WAS BUSY during {', '.join(busy)}: those figures are disturbed." if busy else ".")
    )
    out.append("")
    out.append("Floors (default settings, row b):")
    out += [f"  {_describe(c)}" for c in result["floors"]] or ["  (row b did not run)"]
    if result["floors_tuned"]:
        out.append("The same for the tuned row t (for information; the floors apply to b):")
        out += [f"  {_describe(c)}" for c in result["floors_tuned"]]
    missed = [c["name"] for c in result["floors"] if not c["met"]]
    if missed:
        out.append(f"FLOORS MISSED with default settings: {', '.join(missed)}.")
    elif result["floors"]:
        out.append("Every floor is met with default settings.")
    profile = result.get("profile")
    if profile:
        out += ["", *sink_profile.describe(profile)]
    return "\n".join(out)
