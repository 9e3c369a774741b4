"""The MWAA DAG run end to end by `airflow dags test` against the local stack: a generated
dataset replayed into the real broker, the real sink writing bronze into the stack's S3 lake
(moto), Airflow's metadata in the stack's PostgreSQL, the S3 sensor poking moto, dbt and the GX
checkpoints on DuckDB, the outcome in moto's CloudWatch. Asserted from what they leave: the
task instances in the metadata database, the gold tables, the metrics.

It needs .venv-airflow and .venv-transform (`make transform-env`, which `make test` runs) and
fails, naming them, when they are missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import boto3
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.airflow import (
    DAG_ID,
    SENSED_ENTITIES,
    AirflowRun,
    DagRunOutcome,
    bronze_hours,
    run_locally,
)
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.dev.transform import GOLD_TABLES, gold_rows
from keystone_nexus.olist.generate import generate

pytestmark = pytest.mark.integration
TASKS = (
    "wait_for_bronze",
    "dbt_source_freshness",
    "gx_bronze",
    "dbt_silver",
    "gx_silver",
    "dbt_gold",
    "gx_gold",
    "publish_outcome",
)


@dataclass(frozen=True)
class Ran:
    stack: StackInfo
    run: AirflowRun
    outcome: DagRunOutcome
    metrics: dict[str, list[float]]  # metric name -> the values of its datapoints


def _nexus(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])


def _metrics(stack: StackInfo, outcome: DagRunOutcome) -> dict[str, list[float]]:
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    found: dict[str, list[float]] = {}
    for name in ("PipelineSucceeded", "PipelineDuration"):
        points = cloudwatch.get_metric_statistics(
            Namespace="KeystoneNexus/Transform",
            MetricName=name,
            Dimensions=[{"Name": "Pipeline", "Value": DAG_ID}],
            StartTime=outcome.logical_date - timedelta(days=1),
            EndTime=outcome.logical_date + timedelta(days=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        found[name] = [p["Maximum"] for p in points]
    return found


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Bronze from a real sink run into the stack's S3 lake, then the DAG over it."""
    root = tmp_path_factory.mktemp("airflow-dag")
    csvs, state = root / "olist", root / "stack"
    generate(csvs, scale=0.01, seed=42, fmt="csv")
    stack = devstack.up(state, topics=contracts.topics(), partitions=3)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_", "AIRFLOW"))}
        env |= stack.env() | {
            "NEXUS_SINK__MAX_LATENCY_S": "2",
            "NEXUS_HEALTH__PORT": str(devstack.free_port()),
        }
        _nexus(["replay", "--from", str(csvs), "--no-progress"], env)
        _nexus(["run", "--until-idle", "5"], env)
        run, outcome = run_locally(stack, root / "airflow")  # what `nexus dev airflow` runs
        yield Ran(stack, run, outcome, _metrics(stack, outcome))
    finally:
        devstack.down(state)


def test_every_task_succeeded_for_the_hour_it_sensed(ran: Ran) -> None:
    assert ran.outcome.state == "success"
    assert ran.outcome.tasks == dict.fromkeys(TASKS, "success")
    # The run processed the hour of the newest bronze; the sensor poked moto's S3 for it.
    hour = bronze_hours(ran.run.lake)[-1]
    assert ran.outcome.data_interval_start == hour
    log = (ran.stack.state_dir / "logs" / "moto.log").read_text(errors="replace")
    for entity in SENSED_ENTITIES:
        assert f"prefix=lake/bronze/{entity}/dt%3D{hour:%Y-%m-%d}/hr%3D{hour:%H}/" in log, entity


def test_the_metadata_is_in_the_stacks_postgresql(ran: Ran) -> None:
    assert ran.run.env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert not list(ran.run.home.glob("*.db"))  # no SQLite database beside airflow.cfg
    assert f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={ran.stack.airflow_sql_alchemy_conn}" in (
        ran.stack.env_file.read_text()
    )


def test_the_dag_built_gold_on_duckdb(ran: Ran) -> None:
    rows = gold_rows(ran.run.warehouse)
    assert set(rows) == set(GOLD_TABLES)
    assert all(rows.values()), rows
    assert rows["fct_orders"] > 900  # one row per generated order (scale 0.01)
    results = ran.run.work / "gx" / "results"
    assert sorted(p.name for p in results.glob("*.json")) == ["bronze.json", "gold.json", "silver.json"]


def test_the_outcome_went_to_cloudwatch(ran: Ran) -> None:
    assert ran.metrics["PipelineSucceeded"] == [1.0]
    assert len(ran.metrics["PipelineDuration"]) == 1 and ran.metrics["PipelineDuration"][0] >= 0
