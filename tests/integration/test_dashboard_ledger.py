"""`nexus dashboard` with NEXUS_STATE__DSN against the stack's PostgreSQL: bronze
freshness, the recent batches and runs read from the ledger, whether its rows were
recorded by hand (known times, some outside the last hour) or by a real sink run (then
freshness counts what the lake holds)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from keystone_nexus.dev.stack import free_port
from keystone_nexus.state.ledger import BatchRow, RunRow, record_batches, record_run
from keystone_nexus.state.migrate import migrate
from tests.integration.sinkkit import (
    Broker,
    SinkProcess,
    get,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_caught_up,
    wait_for,
)

pytestmark = pytest.mark.integration

ORDERS, PAYMENTS = "olist.orders.v1", "olist.payments.v1"


@dataclass
class Dashboard:
    url: str
    proc: subprocess.Popen[str]

    def get(self, path: str, status: int = 200) -> Any:
        code, body = get(f"{self.url}{path}")
        assert code == status, (path, code, body[:500])
        return orjson.loads(body)


@contextlib.contextmanager
def _dashboard(tmp_path: Path, env: dict[str, str]) -> Iterator[Dashboard]:
    port = free_port()
    with (tmp_path / "dashboard.log").open("w") as log:
        proc = subprocess.Popen(
            [
                *(
                    sys.executable,
                    "-m",
                    "keystone_nexus",
                    "dashboard",
                    "--duckdb",
                    str(tmp_path / "w.duckdb"),
                ),
                *("--listen", f"127.0.0.1:{port}", "--status-url", "http://127.0.0.1:9"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        answered = wait_for(lambda: get(f"{url}/api/about")[0] == 200 or proc.poll() is not None, 60)
        assert answered and proc.poll() is None, (tmp_path / "dashboard.log").read_text()
        yield Dashboard(url, proc)
    finally:
        proc.terminate()
        proc.wait(30)


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}, **extra}


def _batch(topic: str, partition: int, first: int, n: int, dead: int, at: float) -> BatchRow:
    objects = ((f"bronze/x/{topic}+{partition}+{first:019d}.parquet", n - dead, 1000),)
    return BatchRow(topic, partition, first, first + n - 1, n - dead, dead, 0, objects, "sink-a", at)


@pytest.fixture
def recorded(state_dsn: str, tmp_path: Path) -> Iterator[tuple[Dashboard, float]]:
    """A migrated ledger holding known batches and runs, and a dashboard reading it."""
    now = time.time()
    rows = [
        _batch(ORDERS, 0, 0, 50, 0, now - 7200),  # before the last hour
        _batch(ORDERS, 0, 50, 30, 2, now - 600),
        _batch(ORDERS, 0, 80, 10, 1, now - 30),  # the topic's last commit
        _batch(ORDERS, 1, 0, 20, 0, now - 5000),
        _batch(PAYMENTS, 2, 0, 40, 0, now - 9000),  # nothing in the last hour
    ]
    runs = [
        RunRow("transform", "t-1", now - 4000, now - 3900, "succeeded", {"models": 9}, [{"name": "stg"}]),
        RunRow("redrive", "r-1", now - 100, None, "failed", {"error": "boom"}),
    ]

    async def fill() -> None:
        async with await psycopg.AsyncConnection.connect(state_dsn, autocommit=True) as conn:
            await migrate(conn)
            await record_batches(conn, rows)
            for run in runs:
                await record_run(conn, run)

    asyncio.run(fill())
    with _dashboard(tmp_path, _env(NEXUS_STATE__DSN=state_dsn)) as dashboard:
        yield dashboard, now


def test_freshness_is_the_last_commit_and_the_last_hour_per_topic(recorded: tuple[Dashboard, float]) -> None:
    dashboard, now = recorded
    assert dashboard.get("/api/about")["ledger"].startswith("postgresql:")
    doc = dashboard.get("/api/pipeline/freshness")
    assert doc["window_s"] == 3600
    by_topic = {t["topic"]: t for t in doc["topics"]}
    orders, payments = by_topic[ORDERS], by_topic[PAYMENTS]
    assert orders["last_committed_at"] == pytest.approx(now - 30, abs=1e-3)
    assert orders["seconds_since"] == pytest.approx(doc["now"] - (now - 30), abs=1e-3)
    assert (orders["partitions"], orders["batches"], orders["records"], orders["dead_letters"]) == (
        2,
        2,
        37,
        3,
    )
    assert payments["last_committed_at"] == pytest.approx(now - 9000, abs=1e-3)
    assert (payments["partitions"], payments["batches"], payments["records"], payments["dead_letters"]) == (
        1,
        0,
        0,
        0,
    )
    # Every contract topic is listed; one with no batch has no last commit.
    assert by_topic["olist.sellers.v1"]["last_committed_at"] is None
    assert by_topic["olist.sellers.v1"]["entity"] == "sellers"


def test_batches_and_runs_newest_first_with_a_limit(recorded: tuple[Dashboard, float]) -> None:
    dashboard, now = recorded
    batches = dashboard.get("/api/pipeline/batches?limit=2")["batches"]
    assert [(b["topic"], b["partition"], b["first_offset"]) for b in batches] == [
        (ORDERS, 0, 80),
        (ORDERS, 0, 50),
    ]
    assert batches[0]["committed_at"] == pytest.approx(now - 30, abs=1e-3)
    assert (batches[0]["valid_records"], batches[0]["dead_records"], batches[0]["objects"]) == (9, 1, 1)
    assert len(dashboard.get("/api/pipeline/batches")["batches"]) == 5
    runs = dashboard.get("/api/pipeline/runs")["runs"]
    assert [(r["kind"], r["run_id"], r["status"]) for r in runs] == [
        ("redrive", "r-1", "failed"),
        ("transform", "t-1", "succeeded"),
    ]
    assert runs[0]["finished_at"] is None and runs[0]["summary"] == {"error": "boom"}
    assert runs[1]["duration_s"] == pytest.approx(100, abs=1e-3) and runs[1]["steps"] == 1
    assert dashboard.get("/api/pipeline/runs?limit=0", 400)["error"] == "bad_request"


def test_a_database_without_the_schema_says_to_migrate_it(state_dsn: str, tmp_path: Path) -> None:
    with _dashboard(tmp_path, _env(NEXUS_STATE__DSN=state_dsn)) as dashboard:
        doc = dashboard.get("/api/pipeline/freshness", 503)
        assert doc["error"] == "state_not_migrated" and "nexus state migrate" in doc["message"]


def test_without_a_dsn_the_pipeline_is_not_configured(tmp_path: Path) -> None:
    with _dashboard(tmp_path, _env()) as dashboard:
        doc = dashboard.get("/api/pipeline/batches", 503)
        assert doc["error"] == "state_not_configured" and "NEXUS_STATE__DSN is not set" in doc["message"]


def test_freshness_after_a_real_sink_run_counts_what_the_lake_holds(
    broker: Broker, state_dsn: str, tmp_path: Path
) -> None:
    produced = produce_known_set(broker.bootstrap, 120)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_STATE__DSN=state_dsn,
    )
    sink = SinkProcess(env, tmp_path)
    try:
        assert wait_caught_up(lake, produced.ends, 90, alive=lambda: sink.proc.poll() is None), sink.log()
    finally:
        assert sink.stop() == 0, sink.log()
    bronze = Counter(topic for topic, _, _ in lake_coords(lake, "bronze"))
    dead = Counter(topic for topic, _, _ in lake_coords(lake, "dlq"))
    with psycopg.connect(state_dsn) as conn:
        in_ledger: dict[str, int] = dict(
            conn.execute("SELECT topic, count(*) FROM nexus.batches GROUP BY topic").fetchall()
        )
    with _dashboard(tmp_path, env) as dashboard:
        by_topic = {t["topic"]: t for t in dashboard.get("/api/pipeline/freshness")["topics"]}
        batches = dashboard.get("/api/pipeline/batches?limit=200")["batches"]
    for topic in (ORDERS, PAYMENTS):
        shown = by_topic[topic]
        assert shown["records"] == bronze[topic] > 0, topic
        assert shown["dead_letters"] == dead[topic] > 0, topic
        assert shown["batches"] == in_ledger[topic], topic
        assert shown["partitions"] == 3 and 0 <= shown["seconds_since"] < 3600
    assert len(batches) == sum(in_ledger.values())
    assert sum(b["valid_records"] for b in batches) == sum(bronze.values())
