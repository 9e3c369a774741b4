"""The whole journey end to end (`nexus demo`, keystone_nexus.journey): a generated Olist
dataset and deliberately bad events through a real gRPC ingestion server into the real
local broker, the bronze sink into an S3 lake in moto (with the Glue registry in moto) or
a local lake, then the transform. Exact accounting at every step, and gold against an
independent computation from the generated CSVs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.journey import JourneyOptions, JourneyResult, run_journey
from keystone_nexus.journey.gold import SELLERS_SHOWN, TOP_STATES, min_seller_orders
from tests.olist_expected import (
    ORDERS,
    csv_rows,
    expected_daily_sales,
    expected_on_time,
    expected_orders,
    expected_seller_reviews,
    expected_state_gmv,
)

pytestmark = pytest.mark.integration
SCALE = 0.01
BAD_EVENTS = 5
SINK_DEAD_LETTERS = {
    "customers": "unexpected field 'loyalty_tier'",
    "orders": "not JSON",
    "payments": "unknown schema",
    "reviews": "review_score",
    "sellers": "tombstone",
}


def _journey(root: Path, lake: str, server: str) -> JourneyResult:
    options = JourneyOptions(state_dir=root, scale=SCALE, seed=7, server=server, lake=lake, partitions=3)  # type: ignore[arg-type]
    return run_journey(options)


@pytest.fixture(scope="module")
def s3_journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JourneyResult, Path]]:
    root = tmp_path_factory.mktemp("journey-s3")
    yield _journey(root, "s3", "cpp"), root


@pytest.fixture(scope="module")
def local_journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JourneyResult, Path]]:
    root = tmp_path_factory.mktemp("journey-local")
    yield _journey(root, "local", "twin"), root


@pytest.fixture(params=["s3", "local"])
def journey(
    request: pytest.FixtureRequest,
) -> tuple[JourneyResult, Path]:
    found: tuple[JourneyResult, Path] = request.getfixturevalue(f"{request.param}_journey")
    return found


def _csv_counts(csvs: Path) -> Counter[str]:
    return Counter({spec.name: len(csv_rows(csvs, spec.csv_file)) for spec in contracts.entities()})


def _lake_dir(result: JourneyResult, root: Path) -> Path:
    return root / ("lake-mirror" if result.options.lake == "s3" else "lake")


def test_every_event_is_accounted_for(journey: tuple[JourneyResult, Path]) -> None:
    result, root = journey
    rows = _csv_counts(root / "olist")
    # Sent = accepted + rejected, per entity and in all, from the server's answers.
    assert result.via.sent == rows and result.via.accepted == rows
    assert sum(result.via.rejected.values()) == 0
    assert result.sent == sum(rows.values()) + BAD_EVENTS
    assert result.rejected == BAD_EVENTS == len(result.bad_events)
    assert result.sent == result.accepted + result.rejected
    assert [accepted for _, accepted, _ in result.bad_events] == [False] * BAD_EVENTS
    reasons = [reason for _, _, reason in result.bad_events]
    for field in ("order_status:", "customer_state:", "review_score:", "entity: unknown value 42", "entity:"):
        assert any(r.startswith(field) for r in reasons), (field, reasons)
    # Accepted (+ the records produced past the server) = bronze rows + dead letters.
    assert len(result.bad_records) == len(SINK_DEAD_LETTERS)
    assert result.accepted + len(result.bad_records) == result.bronze_rows + result.dead_lettered
    assert result.lake.bronze_rows == rows
    assert result.lake.dlq_rows == Counter(dict.fromkeys(SINK_DEAD_LETTERS, 1))
    for (entity, reason), count in result.lake.dlq_reasons.items():
        assert count == 1 and SINK_DEAD_LETTERS[entity] in reason, (entity, reason)
    # Counted again straight from the Parquet, not through the lake summary.
    lake = _lake_dir(result, root)
    with duckdb.connect() as con:
        for spec in contracts.entities():
            found = con.execute(
                f"select count(*), count(distinct (_topic, _partition, _offset)) "
                f"from '{lake}/bronze/{spec.name}/*/*/*.parquet'"
            ).fetchone()
            assert found == (rows[spec.name], rows[spec.name]), spec.name
    # The sink was watched from /status all along, and had drained at the end.
    assert result.samples and result.samples[-1].records == result.accepted + len(result.bad_records)
    assert result.samples[-1].buffered == 0


def test_the_s3_lake_is_in_moto_and_nothing_is_left_running(s3_journey: tuple[JourneyResult, Path]) -> None:
    result, root = s3_journey
    assert result.server.startswith("C++ server")
    assert result.paths["lake"].startswith("s3://")
    assert not (root / "lake").exists()
    info = devstack.load_info(root / "stack")
    assert info is not None
    assert not any(p.alive() for p in devstack.processes(root / "stack").values())
    _assert_not_answering(result.paths["status"])
    # Bronze, dead letters and checkpoints went to moto's S3 over HTTP; the transform read a copy.
    bucket, _, prefix = result.paths["lake"].removeprefix("s3://").partition("/")
    log = (root / "stack" / "logs" / "moto.log").read_text(errors="replace")
    for what in ("bronze/orders/", "dlq/", "_checkpoints/"):
        assert f"PUT /{bucket}/{prefix}/{what}" in log, what
    mirrored = [p.relative_to(root / "lake-mirror") for p in (root / "lake-mirror").rglob("*.parquet")]
    assert {p.parts[0] for p in mirrored} == {"bronze", "dlq"}


def test_the_local_lake_journey_used_the_twin(local_journey: tuple[JourneyResult, Path]) -> None:
    result, root = local_journey
    assert result.server.startswith("Python twin")
    assert result.paths["lake"] == f"file://{root.resolve() / 'lake'}"
    assert (root / "lake" / "_checkpoints").is_dir()
    assert not any(p.alive() for p in devstack.processes(root / "stack").values())
    _assert_not_answering(result.paths["status"])


def _assert_not_answering(status_url: str) -> None:
    with pytest.raises(OSError):
        urllib.request.urlopen(status_url, timeout=2)


def _gold(warehouse: str, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(warehouse, read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-6
    return bool(a == b)


def test_gold_equals_an_independent_computation(journey: tuple[JourneyResult, Path]) -> None:
    result, root = journey
    csvs = root / "olist"
    expected = expected_orders(csvs, csvs / ORDERS)
    warehouse = result.paths["duckdb"]
    assert result.transform is not None and result.transform.gx_success
    assert result.transform.tests_passed == result.transform.tests_total >= 100
    got = {
        r.pop("order_id"): r
        for r in _gold(warehouse, "select * exclude (purchase_month) from gold.fct_orders")
    }
    assert got.keys() == expected.keys() and len(got) > 900
    wrong = [(o, c) for o, row in expected.items() for c, v in row.items() if not _close(got[o][c], v)]
    assert not wrong, wrong[:10]

    daily = expected_daily_sales(expected)
    cells = _gold(warehouse, "select * from gold.agg_daily_sales")
    assert {(r["purchase_date"], r["customer_state"]) for r in cells} == daily.keys()
    for r in cells:
        orders, gmv = daily[(r["purchase_date"], r["customer_state"])]
        assert r["orders"] == orders and _close(r["gmv"], gmv), r

    # The highlights the summary prints.
    gold = result.gold
    assert gold is not None
    states = expected_state_gmv(expected)
    assert gold.orders == sum(n for n, _ in states.values())
    assert _close(round(gold.gmv, 6), round(sum(g for _, g in states.values()), 6))
    top = sorted(states.items(), key=lambda kv: (-kv[1][1], kv[0]))[:TOP_STATES]
    assert [(s.state, s.orders) for s in gold.top_states] == [(k, v[0]) for k, v in top]
    assert all(
        _close(round(s.gmv, 6), round(v[1], 6)) for s, (_, v) in zip(gold.top_states, top, strict=True)
    )
    delivered, on_time = expected_on_time(expected)
    assert gold.delivered_orders == delivered and gold.on_time_rate is not None
    assert abs(gold.on_time_rate - on_time) < 1e-9 and 0 < on_time < 1

    sellers = expected_seller_reviews(csvs, expected)
    floor = min_seller_orders(gold.orders)
    ranked = [(s, v) for s, v in sellers.items() if v[0] >= floor]
    best = sorted(ranked, key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:SELLERS_SHOWN]
    worst = sorted(ranked, key=lambda kv: (kv[1][1], -kv[1][0], kv[0]))[:SELLERS_SHOWN]
    assert [s.seller_id for s in gold.best_sellers] == [s for s, _ in best]
    assert [s.seller_id for s in gold.worst_sellers] == [s for s, _ in worst]
    assert all(
        abs(s.avg_review_score - v[1]) < 1e-9 for s, (_, v) in zip(gold.best_sellers, best, strict=True)
    )
    assert gold.best_sellers[0].avg_review_score > gold.worst_sellers[0].avg_review_score


def _own_processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in environ or marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_ctrl_c_stops_everything_it_started(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))}
    argv = [sys.executable, "-m", "keystone_nexus", "demo", "--state-dir", str(state), "--scale", "0.01"]
    proc = subprocess.Popen(
        [*argv, "--server", "twin", "--partitions", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("== ingest"):
            break
    time.sleep(1.0)  # the server and the sink are running now
    running = _own_processes_with(str(state))
    assert len(running) >= 3, seen  # this command, the server, the sink (its env names the lake)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(90) == 130, rest[-2000:]
    assert not any(p.alive() for p in devstack.processes(state / "stack").values())
    deadline = time.monotonic() + 10
    while _own_processes_with(str(state)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _own_processes_with(str(state)) == []
