"""The dashboard in headless Chromium (Debian's, driven by playwright-core through
dashboard/e2e/probe.mjs) against a running stack.

Gold comes from the journey (`nexus demo`'s code: the gRPC ingestion server, the sink, the
transform). The live part is a second local stack with a running sink that holds what it
consumed (flush bounds of an hour), so its lag stays exactly the number of records sent
until more are sent. The page must show that lag (cards, topic and partition tables, the
lag chart), follow it when more records arrive, show gold numbers equal to ones computed
here from the DuckDB tables (by day, week and month as the reader picks), and say so when
the sink goes down. The stack's PostgreSQL holds the pipeline ledger: while the sink holds
its records it has no batch, and the page lists every bronze table as never committed;
once the sink stops it flushes and records its batches, and the page's freshness shows
the records the ledger holds. Screenshots go to .state/dashboard.png,
.state/dashboard-sink-down.png and .state/dashboard-ledger.png.

`make dashboard-test` builds the page and runs this (it needs Node.js, the node modules and
Chromium, which that target installs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.journey import JourneyOptions, run_journey

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"
PROBE = DASHBOARD / "e2e" / "probe.mjs"
SCREENSHOTS = REPO / ".state"
ORDERS_TOPIC = contracts.entity("orders").topic
PARTITIONS = 3
FIRST, MORE = 40, 15  # orders sent to the live stack, then sent again while the page is open

pytestmark = pytest.mark.integration


def _nexus(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.loads(response.read())


def _until(what: str, check: Any, timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")


class Probe:
    """The page in Chromium, driven line by line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(PROBE)],
            cwd=DASHBOARD,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the probe exited (code {self.proc.poll()})"
        answer: dict[str, Any] = json.loads(line)
        assert answer["ok"], answer.get("error")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write('{"cmd": "quit"}\n')
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Running:
    url: str  # the dashboard
    status_url: str  # the sink's health server
    warehouse: Path
    env: dict[str, str]
    dataset: Path
    sink: subprocess.Popen[bytes]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _orders_lag(status_url: str) -> int:
    doc = _get(f"{status_url}/status")
    return int(doc["topics"].get(ORDERS_TOPIC, {}).get("sum_offset_lag", -1))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("dashboard")
    journey = run_journey(
        JourneyOptions(state_dir=root / "journey", scale=0.01, seed=7, partitions=PARTITIONS)
    )
    assert journey.transform is not None and journey.transform.gx_success
    warehouse = Path(journey.paths["duckdb"])

    state = root / "stack"
    stack = devstack.up(state, topics=contracts.topics(), partitions=PARTITIONS)
    procs: list[subprocess.Popen[bytes]] = []
    logs = root / "logs"
    logs.mkdir()
    try:
        health, web = devstack.free_port(), devstack.free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))}
        env = {
            **base,
            **stack.env(),
            "NEXUS_LAKE__URI": f"file://{root / 'lake'}",
            "NEXUS_HEALTH__PORT": str(health),
            # The sink holds what it reads for up to an hour: its lag stays what was sent.
            "NEXUS_SINK__MAX_LATENCY_S": "3600",
            "NEXUS_SINK__IDLE_FLUSH_S": "3600",
        }
        dataset = Path(journey.paths["dataset"])
        sent = _nexus(
            [
                "replay",
                "--from",
                str(dataset),
                "--entities",
                "orders",
                "--limit",
                str(FIRST),
                "--no-progress",
            ],
            env,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        status_url = f"http://127.0.0.1:{health}"
        with (logs / "sink.log").open("wb") as log:
            sink = subprocess.Popen(
                [sys.executable, "-m", "keystone_nexus", "run"], env=env, stdout=log, stderr=log
            )
        procs.append(sink)
        assigned = PARTITIONS * len(contracts.topics())
        _until(
            "the sink owns every partition",
            lambda: len(_get(f"{status_url}/status")["partitions"]) == assigned,
        )
        _until(f"the sink has read the {FIRST} orders", lambda: _orders_lag(status_url) == FIRST)
        with (logs / "dashboard.log").open("wb") as log:
            dashboard = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "keystone_nexus",
                    "dashboard",
                    "--duckdb",
                    str(warehouse),
                    "--status-url",
                    status_url,
                    "--listen",
                    f"127.0.0.1:{web}",
                ],
                env=env,
                stdout=log,
                stderr=log,
            )
        procs.append(dashboard)
        url = f"http://127.0.0.1:{web}"
        _until("the dashboard answers", lambda: _get(f"{url}/api/about")["gold"] == f"duckdb:{warehouse}")
        yield Running(url, status_url, warehouse, env, dataset, sink)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        devstack.down(state)


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    p = Probe()
    try:
        yield p
    finally:
        p.close()


def _ledger(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["NEXUS_STATE__DSN"]) as conn:
        return conn.execute(sql).fetchall()


def _gold(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


SOLD = "from gold.fct_orders where order_status not in ('canceled', 'unavailable')"


def test_the_page_shows_the_true_lag_and_follows_it(running: Running, probe: Probe) -> None:
    probe(cmd="open", url=f"{running.url}/")
    probe(cmd="wait", ticks=2, lag=FIRST)
    first = probe(cmd="snapshot", screenshot=str(SCREENSHOTS / "dashboard.png"))
    shown, status = first["shown"], _get(f"{running.status_url}/status")
    assert first["problems"] == []
    assert all(r.startswith("GET ") for r in first["requests"]), first["requests"]
    live = shown["live"]
    assert live["state"] == "ok"
    # The true lag: every order sent is read and held, none committed.
    assert sum(p["offset_lag"] for p in status["partitions"]) == FIRST
    assert live["lag"]["value"] == FIRST and live["lag"]["text"] == f"{FIRST:,}"
    assert live["lagChartLast"] == FIRST
    shown_parts = {(p["topic"], p["partition"]): int(p["lag"]["value"]) for p in live["partitions"]}
    true_parts = {(p["topic"], p["partition"]): p["offset_lag"] for p in status["partitions"]}
    assert shown_parts == true_parts
    assert sum(lag for (topic, _), lag in shown_parts.items() if topic == ORDERS_TOPIC) == FIRST
    shown_topics = {t["topic"]: int(t["sum-lag"]["value"]) for t in live["topics"]}
    assert shown_topics == {t: v["sum_offset_lag"] for t, v in status["topics"].items()}
    assert shown_topics[ORDERS_TOPIC] == FIRST
    committed = {(p["topic"], p["partition"]): int(p["committed"]["value"]) for p in live["partitions"]}
    assert committed == {(p["topic"], p["partition"]): p["committed"] for p in status["partitions"]}

    # More orders arrive; the open page follows without a reload.
    sent = _nexus(
        [
            "replay",
            "--from",
            str(running.dataset),
            "--entities",
            "orders",
            "--limit",
            str(MORE),
            "--no-progress",
        ],
        running.env,
    )
    assert sent.returncode == 0, sent.stderr
    _until("the sink has read the new orders", lambda: _orders_lag(running.status_url) == FIRST + MORE)
    probe(cmd="wait", lag=FIRST + MORE)
    later = probe(cmd="snapshot")["shown"]["live"]
    assert later["lagChartLast"] == FIRST + MORE
    assert {t["topic"]: int(t["sum-lag"]["value"]) for t in later["topics"]}[ORDERS_TOPIC] == FIRST + MORE
    assert later["inPerS"]["value"] is not None and later["inPerS"]["value"] >= 0


def test_the_gold_numbers_are_the_warehouse_numbers(running: Running, probe: Probe) -> None:
    probe(cmd="open", url=f"{running.url}/")
    probe(cmd="wait", ticks=1)
    gold = probe(cmd="snapshot")["shown"]["gold"]
    assert gold["state"] == "ok", gold["message"]
    w = running.warehouse

    [(orders, gmv, days)] = _gold(
        w,
        f"select count(*), sum(items_value + freight_value), count(distinct cast(purchased_at as date)) {SOLD}",
    )
    assert orders > 0
    assert gold["orders"]["value"] == orders and gold["orders"]["text"] == f"{orders:,}"
    assert gold["gmv"]["value"] == pytest.approx(gmv, rel=1e-9)
    assert gold["gmv"]["text"] == f"R$ {gmv:,.2f}"
    assert gold["gmvChartPoints"] == days

    [(delivered, on_time)] = _gold(
        w,
        "select count(*), avg(case when is_late then 0.0 else 1.0 end) from gold.fct_orders where delivered_at is not null",
    )
    assert gold["delivered"]["value"] == delivered
    assert gold["onTime"]["value"] == pytest.approx(on_time, rel=1e-9)
    assert gold["onTime"]["text"] == f"{on_time * 100:.1f}%"

    by_state = _gold(
        w,
        f"select customer_state, sum(items_value + freight_value) {SOLD} group by 1 order by 2 desc, 1 limit 10",
    )
    assert [b["key"] for b in gold["gmvByState"]] == [s for s, _ in by_state]
    assert [b["value"] for b in gold["gmvByState"]] == pytest.approx([g for _, g in by_state], rel=1e-9)

    on_time_by_state = dict(
        _gold(
            w,
            "select customer_state, avg(case when is_late then 0.0 else 1.0 end) from gold.fct_orders "
            "where delivered_at is not null group by 1",
        )
    )
    shown_on_time = {b["key"]: b["value"] for b in gold["onTimeByState"]}
    assert shown_on_time == pytest.approx(on_time_by_state, rel=1e-9)
    rates = [b["value"] for b in gold["onTimeByState"]]
    assert rates == sorted(rates, reverse=True)

    reviews = dict(
        _gold(
            w, "select review_score, count(*) from gold.fct_orders where review_score is not null group by 1"
        )
    )
    assert {int(b["key"]): b["value"] for b in gold["reviews"]} == {s: reviews.get(s, 0) for s in range(1, 6)}

    sellers = _gold(
        w,
        "select seller_id, revenue, orders from gold.dim_sellers order by revenue desc, orders desc, seller_id limit 10",
    )
    assert [s["seller"] for s in gold["sellers"]] == [s for s, _, _ in sellers]
    assert [float(s["revenue"]["value"]) for s in gold["sellers"]] == pytest.approx(
        [r for _, r, _ in sellers], rel=1e-9
    )
    assert [int(s["orders"]["value"]) for s in gold["sellers"]] == [n for _, _, n in sellers]
    assert gold["gmvGrain"] == "day"


@pytest.mark.parametrize("grain", ["week", "month"])
def test_gmv_by_the_grain_the_reader_picks(running: Running, probe: Probe, grain: str) -> None:
    probe(cmd="open", url=f"{running.url}/")
    probe(cmd="wait", ticks=1)
    probe(cmd="click", selector=f'input[name="gmv-grain"][value="{grain}"]')
    probe(cmd="wait", grain=grain)
    gold = probe(cmd="snapshot")["shown"]["gold"]
    assert gold["gmvCaption"] == f"GMV by purchase {grain}"
    period = f"date_trunc('{grain}', cast(purchased_at as date))"
    periods = _gold(
        running.warehouse,
        f"select {period}, sum(items_value + freight_value) {SOLD} group by 1 order by 1",
    )
    assert len(periods) > 1
    assert gold["gmvChartPoints"] == len(periods)
    assert gold["gmvChartLast"] == pytest.approx(periods[-1][1], rel=1e-9)


def test_the_ledger_lists_every_bronze_table_while_nothing_is_committed(
    running: Running, probe: Probe
) -> None:
    assert _ledger(running.env, "select count(*) from nexus.batches") == [(0,)]
    probe(cmd="open", url=f"{running.url}/")
    probe(cmd="wait", ticks=1, ledger="empty")
    ledger = probe(cmd="snapshot")["shown"]["ledger"]
    assert "No batch recorded yet" in ledger["message"] and ledger["bodyHidden"] is False
    assert {r["topic"] for r in ledger["freshness"]} == set(contracts.topics())
    assert {r["freshness"] for r in ledger["freshness"]} == {"never"}
    assert ledger["batches"] == [] and ledger["runs"] == []


def test_a_sink_that_goes_down_is_shown_as_unreachable(running: Running, probe: Probe) -> None:
    probe(cmd="open", url=f"{running.url}/")
    probe(cmd="wait", ticks=1, live="ok")
    _stop(running.sink)
    probe(cmd="wait", live="error")
    down = probe(cmd="snapshot", screenshot=str(SCREENSHOTS / "dashboard-sink-down.png"))["shown"]
    assert "Sink unreachable" in down["live"]["message"]
    assert running.status_url in down["live"]["message"]
    assert down["live"]["lag"]["value"] is None
    assert down["gold"]["state"] == "ok"  # gold does not depend on the sink

    # Stopping, the sink flushed what it held and recorded those batches in the ledger.
    [(batches, records, landed)] = _ledger(
        running.env,
        "select count(*), sum(valid_records), sum(valid_records + dead_records) from nexus.batches "
        f"where topic = '{ORDERS_TOPIC}'",
    )
    assert batches > 0 and landed == FIRST + MORE
    probe(cmd="wait", ledger="ok", records={"topic": ORDERS_TOPIC, "value": records}, timeout_ms=60_000)
    ledger = probe(cmd="snapshot", screenshot=str(SCREENSHOTS / "dashboard-ledger.png"))["shown"]["ledger"]
    orders = next(r for r in ledger["freshness"] if r["topic"] == ORDERS_TOPIC)
    assert orders["freshness"] == "fresh" and orders["entity"]["text"] == "orders"
    assert int(orders["batches"]["value"]) == batches
    shown = [b for b in ledger["batches"] if b["topic"] == ORDERS_TOPIC]
    assert sum(int(b["valid"]["value"]) for b in shown) == records
