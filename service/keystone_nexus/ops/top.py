"""`nexus top`: per-partition lag and rates from a running sink's /status, refreshed."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson


def fetch(url: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """The sink's /status; while it is starting, the 503 answer saying what it waits for."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        if error.code != 503:
            raise
        body = error.read()
    doc: dict[str, Any] = orjson.loads(body)
    return doc


def render(status: Mapping[str, Any], previous: Mapping[str, Any] | None, elapsed_s: float) -> str:
    """The screen for one refresh (pure): topics, then partitions, with rates since the last one."""
    totals = status.get("totals", {})
    before = (previous or {}).get("totals", {})
    rate = (totals.get("records_valid", 0) - before.get("records_valid", 0)) / elapsed_s if previous else 0.0
    lines = [
        f"keystone-nexus {status.get('version', '?')}  owner {status.get('owner', '?')}  "
        f"written {totals.get('records_valid', 0):,}  dead {totals.get('records_dead', 0):,}  "
        f"{rate:,.0f} rec/s  failures {totals.get('failures', 0)}",
        *(f"starting: {reason}" for reason in status.get("reasons", []) if status.get("starting")),
        "",
        f"{'topic':<34}{'sum lag':>10}{'max lag':>10}{'time lag s':>12}",
    ]
    for topic, lag in sorted(status.get("topics", {}).items()):
        lines.append(
            f"{topic:<34}{lag['sum_offset_lag']:>10,}{lag['max_offset_lag']:>10,}{lag['estimated_max_time_lag_s']:>12.1f}"
        )
    lines += [
        "",
        f"{'topic':<34}{'part':>5}{'committed':>12}{'high water':>12}{'lag':>9}{'buffered':>10}  state",
    ]
    for p in status.get("partitions", []):
        state = "paused" if p.get("paused") else ("writing" if p.get("in_flight") else "")
        if p.get("failures"):
            state = f"failing x{p['failures']}"
        high = "-" if p.get("high_water") is None else f"{p['high_water']:,}"
        lines.append(
            f"{p['topic']:<34}{p['partition']:>5}{p['committed']:>12,}{high:>12}{p['offset_lag']:>9,}"
            f"{p['buffered']:>10,}  {state}"
        )
    return "\n".join(lines)


def run(url: str, interval_s: float, once: bool) -> None:
    previous: dict[str, Any] | None = None
    last = time.monotonic()
    while True:
        status = fetch(url)
        now = time.monotonic()
        screen = render(status, previous, max(now - last, 1e-6))
        print(screen if once else "\x1b[2J\x1b[H" + screen, flush=True)
        if once:
            return
        previous, last = status, now
        time.sleep(interval_s)
