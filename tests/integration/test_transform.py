"""The transform end to end: a generated Olist dataset replayed into a real broker, the
bronze sink writing a local lake, then `nexus transform` (GX, dbt build on DuckDB, GX).
Gold is checked against an independent computation in plain Python over the generated
CSVs; the Athena target compiles offline; the MWAA DAG imports in its Airflow environment;
the GX suites fail on corrupted data."""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.transform import DEFAULT_PROJECT, GOLD_TABLES, Toolchain, dbt_results
from keystone_nexus.lake import warehouse as warehouse_db
from keystone_nexus.olist.generate import generate
from tests.olist_expected import ORDERS, TS, expected_daily_sales, expected_orders

pytestmark = pytest.mark.integration
REPO = DEFAULT_PROJECT.parent
TOOLS = Toolchain.find(DEFAULT_PROJECT)
AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"


@dataclass(frozen=True)
class Built:
    csvs: Path
    orders_csv: Path  # the orders in their latest state (after the updates)
    lake: Path
    warehouse: Path
    work: Path
    output: str


def _nexus(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _stack_env(state: Path, lake: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))}
    for line in (state / "env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env["NEXUS_LAKE__URI"] = f"file://{lake}"
    env["NEXUS_SINK__MAX_LATENCY_S"] = "2"
    env["NEXUS_HEALTH__PORT"] = str(devstack.free_port())
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A lake written by the real sink from a generated dataset, and `nexus transform` over it."""
    root = tmp_path_factory.mktemp("transform")
    csvs, lake, state = root / "olist", root / "lake", root / "stack"
    generate(csvs, scale=0.01, seed=42, fmt="csv")
    devstack.up(state, topics=contracts.topics(), partitions=3)
    try:
        env = _stack_env(state, lake)
        replayed = _nexus(["replay", "--from", str(csvs), "--no-progress"], env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        sunk = _nexus(["run", "--until-idle", "5"], env)
        assert sunk.returncode == 0, sunk.stderr[-3000:]
        # Every order again, the undelivered ones now delivered: silver must keep one row per
        # order, in its latest state.
        updates = root / "olist-updates"
        moved = write_order_updates(csvs / ORDERS, updates / ORDERS)
        assert moved > 10
        replayed = _nexus(["replay", "--from", str(updates), "--entities", "orders", "--no-progress"], env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        sunk = _nexus(["run", "--until-idle", "5"], env)
        assert sunk.returncode == 0, sunk.stderr[-3000:]
    finally:
        devstack.down(state)
    # Named as its schema is: DuckDB names the file's catalog `gold` too (any name must work).
    warehouse = root / "gold.duckdb"
    done = _nexus(["transform", "--lake", str(lake), "--duckdb", str(warehouse)], env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    yield Built(
        csvs,
        updates / ORDERS,
        lake,
        warehouse,
        warehouse.with_name("gold.duckdb.transform"),
        done.stdout,
    )


def write_order_updates(source: Path, out: Path) -> int:
    """Every order of `source` again; the shipped, invoiced and processing ones delivered (on
    alternate orders a day before and a day after the estimate). Returns how many moved."""
    with source.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    moved = 0
    for row in rows:
        if row["order_status"] in ("shipped", "invoiced", "processing"):
            estimated = datetime.strptime(row["order_estimated_delivery_date"], TS)
            delivered = estimated + timedelta(days=1 if moved % 2 else -1, hours=15)
            row["order_status"] = "delivered"
            row["order_delivered_customer_date"] = delivered.strftime(TS)
            moved += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        writer.writerows(rows)
    return moved


def _gold(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    with warehouse_db.open_read_only(warehouse) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-6
    return bool(a == b)


def test_transform_builds_every_model_and_passes_every_test(built: Built) -> None:
    statuses, passed, total = dbt_results(built.work / "dbt-target")
    assert set(statuses) <= {"success", "pass"}, statuses
    assert statuses["success"] == 16  # models
    assert passed == total >= 100
    assert f"dbt: {passed}/{total} tests passed" in built.output
    assert "GX success: True" in built.output
    for layer in ("bronze", "silver", "gold"):
        results = json.loads((built.work / "gx" / "results" / f"{layer}.json").read_text())
        assert results and all(r["success"] for r in results.values())
    assert (built.work / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    rows = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in built.output.splitlines()[1:7]}
    assert set(rows) == set(GOLD_TABLES) and all(rows.values())


def test_fct_orders_equals_an_independent_computation(built: Built) -> None:
    expected = expected_orders(built.csvs, built.orders_csv)
    got = {
        r.pop("order_id"): r
        for r in _gold(built.warehouse, "select * exclude (purchase_month) from gold.fct_orders")
    }
    assert set(got) == set(expected)
    assert len(expected) > 900
    with duckdb.connect() as con:
        bronze = con.execute(f"select count(*) from '{built.lake}/bronze/orders/*/*/*.parquet'").fetchone()
    assert bronze == (2 * len(expected),)  # every order twice in bronze, once in gold
    mismatches = [
        (oid, column, got[oid][column], value)
        for oid, row in expected.items()
        for column, value in row.items()
        if not _same(got[oid][column], value)
    ]
    assert not mismatches, mismatches[:10]
    assert any(r["is_late"] for r in expected.values()) and any(
        r["is_late"] is False for r in expected.values()
    )
    assert any(r["delivered_at"] is None for r in expected.values())


def test_agg_daily_sales_equals_an_independent_computation(built: Built) -> None:
    expected = expected_daily_sales(expected_orders(built.csvs, built.orders_csv))
    got = _gold(built.warehouse, "select * from gold.agg_daily_sales")
    assert [c for c in got[0]] == ["purchase_date", "customer_state", "orders", "gmv"]
    assert {
        (r["purchase_date"], r["customer_state"]): [r["orders"], r["gmv"]] for r in got
    }.keys() == expected.keys()
    for r in got:
        orders, gmv = expected[(r["purchase_date"], r["customer_state"])]
        assert r["orders"] == orders and abs(r["gmv"] - gmv) < 1e-6, r


def _dbt(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS.dbt), "--no-use-colors", *args],
        cwd=DEFAULT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bronze_is_fresh_and_athena_compiles_offline(built: Built, tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEXUS_", "DBT_"))}
    local = {
        **base,
        "DBT_PROFILES_DIR": str(DEFAULT_PROJECT),
        "DBT_TARGET_PATH": str(tmp_path / "duckdb-target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "NEXUS_TRANSFORM_LAKE": str(built.lake),
        "NEXUS_TRANSFORM_DUCKDB": str(built.warehouse),
    }
    fresh = _dbt(["source", "freshness"], local)
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    assert fresh.stdout.count("PASS freshness of bronze.") == 9

    athena = {
        **base,
        "DBT_PROFILES_DIR": str(DEFAULT_PROJECT),
        "DBT_TARGET_PATH": str(tmp_path / "athena-target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    compiled = _dbt(["compile", "--target", "athena", "--no-populate-cache"], athena)
    assert compiled.returncode == 0, compiled.stdout[-3000:]
    out = tmp_path / "athena-target" / "compiled" / "keystone_nexus" / "models"
    stg_orders = (out / "silver" / "stg_orders.sql").read_text()
    assert '"awsdatacatalog"."keystone_nexus_bronze"."bronze_orders"' in stg_orders
    assert "date_parse(" in stg_orders and "read_parquet" not in stg_orders
    assert "strip_accents" not in (out / "silver" / "stg_customers.sql").read_text()
    delivery = (out / "gold" / "int_orders_delivery_measured.sql").read_text()
    assert "/ 86400000" in delivery  # dbt-athena's datediff


def test_the_mwaa_dag_imports_with_its_tasks_in_order(tmp_path: Path) -> None:
    probe = """
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
dag = bag.dags.get("keystone_nexus_transform")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "edges": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} if dag else {},
    "catchup": dag.catchup if dag else None,
    "max_active_runs": dag.max_active_runs if dag else None,
    "timeout": dag.dagrun_timeout.total_seconds() if dag else None,
    "sensor_mode": dag.get_task("wait_for_bronze").mode if dag else None,
    "retries": {t.task_id: t.retries for t in dag.tasks} if dag else {},
    "trigger": dag.get_task("publish_outcome").trigger_rule if dag else None,
    "on_failure": all(t.on_failure_callback for t in dag.tasks) if dag else None,
}))
"""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "false"}
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", probe, str(DEFAULT_PROJECT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    dag = json.loads(done.stdout.strip().splitlines()[-1])
    assert dag["errors"] == {}
    chain = ["wait_for_bronze", "dbt_source_freshness", "gx_bronze", "dbt_silver", "gx_silver", "dbt_gold"]
    chain += ["gx_gold", "publish_outcome"]
    assert dag["edges"] == {a: [b] for a, b in itertools.pairwise(chain)} | {"publish_outcome": []}
    assert dag["catchup"] is False and dag["max_active_runs"] == 1 and dag["timeout"] == 7200
    assert dag["sensor_mode"] == "reschedule"
    assert dag["retries"]["dbt_silver"] >= 1 and dag["retries"]["dbt_gold"] >= 1
    assert dag["trigger"] == "all_done" and dag["on_failure"] is True


def _checkpoints(layers: list[str], lake: Path, warehouse: Path, out: Path) -> tuple[int, dict[str, Any]]:
    argv = [str(TOOLS.python), str(DEFAULT_PROJECT / "gx" / "run_checkpoints.py"), "--engine", "duckdb"]
    argv += ["--lake", str(lake), "--duckdb", str(warehouse), "--out", str(out)]
    for layer in layers:
        argv += ["--layer", layer]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_a_failed_bronze_checkpoint_stops_the_transform(built: Built, tmp_path: Path, state_dsn: str) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(built.lake, lake)
    orders = sorted((lake / "bronze" / "orders").rglob("*.parquet"))[0]
    table = pq.read_table(orders)
    status = table.column("order_status").to_pylist()
    status[0] = "teleported"
    table = table.set_column(table.schema.get_field_index("order_status"), "order_status", pa.array(status))
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), orders)  # and one coordinate twice

    warehouse = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env["NEXUS_STATE__DSN"] = state_dsn  # the failed run is recorded in nexus.runs
    done = _nexus(["transform", "--lake", str(lake), "--duckdb", str(warehouse)], env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "GX checkpoints failed" in done.stderr
    runs = json.loads(_nexus(["state", "runs", "--json"], env).stdout)
    assert [(r["kind"], r["status"]) for r in runs] == [("transform", "failed")]
    assert "GX checkpoints failed" in runs[0]["summary"]["error"]
    failed = json.loads(
        (tmp_path / "warehouse.duckdb.transform" / "gx" / "results" / "bronze.json").read_text()
    )
    assert [t for t, r in failed.items() if not r["success"]] == ["orders"]
    assert any("expect_column_values_to_be_in_set" in f for f in failed["orders"]["failed"])
    assert any("expect_compound_columns_to_be_unique" in f for f in failed["orders"]["failed"])
    # dbt built beside the bronze checks, into a file of its own that a failure discards.
    assert not warehouse.exists() and not (tmp_path / "warehouse.duckdb.building").exists()


def test_silver_and_gold_checkpoints_fail_on_corrupted_tables(built: Built, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into silver.stg_orders select * from silver.stg_orders limit 1")
        con.execute(
            "update gold.fct_orders set review_score = 9 where order_id = (select min(order_id) from gold.fct_orders)"
        )
        con.execute("update gold.dim_sellers set late_shipping_rate = 1.5")
    code, summary = _checkpoints(["silver", "gold"], built.lake, warehouse, tmp_path / "gx")
    assert code == 1 and summary["success"] is False
    assert list(summary["layers"]["silver"]["failed"]) == ["stg_orders"]
    assert sorted(summary["layers"]["gold"]["failed"]) == ["dim_sellers", "fct_orders"]
    assert (tmp_path / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
