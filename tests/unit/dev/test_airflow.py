"""The local DAG run's pure parts: which hour to test, its logical date, the Airflow
environment composed from a stack; and `nexus dev airflow` without a stack."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keystone_nexus.dev.airflow import AirflowRun, bronze_hours, logical_date
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.dev.transform import Toolchain, TransformError

STACK = StackInfo(
    state_dir=Path("/tmp/stack"),
    bootstrap_servers="127.0.0.1:9092",
    aws_endpoint_url="http://127.0.0.1:5000",
    postgres_dsn="postgresql://nexus:secret@127.0.0.1:5432/nexus",
)
TOOLS = Toolchain(dbt=Path("/opt/transform/bin/dbt"), python=Path("/opt/transform/bin/python"))


def _bronze(lake: Path, entity: str, hour: str) -> None:
    day, hr = hour.split("T")
    part = lake / "bronze" / entity / f"dt={day}" / f"hr={hr}"
    part.mkdir(parents=True)
    (part / "t+0+0000000000000000000.parquet").write_bytes(b"")


def test_bronze_hours_are_those_every_sensed_entity_has(tmp_path: Path) -> None:
    for entity in ("orders", "order_items", "payments"):
        _bronze(tmp_path, entity, "2026-12-03T08")
    _bronze(tmp_path, "orders", "2026-12-03T09")  # orders only: not sensed as a whole hour
    (tmp_path / "bronze" / "payments" / "dt=2026-12-03" / "hr=10").mkdir()  # no Parquet
    assert bronze_hours(tmp_path) == [datetime(2026, 12, 3, 8, tzinfo=UTC)]
    assert bronze_hours(tmp_path / "missing") == []


def test_the_run_that_processes_an_hour_is_dated_an_hour_later() -> None:
    assert logical_date(datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_airflow_environment_points_at_the_stack(tmp_path: Path) -> None:
    run = AirflowRun(
        stack=STACK,
        home=tmp_path / "home",
        lake=tmp_path / "lake",
        warehouse=tmp_path / "w.duckdb",
        tools=TOOLS,
    )
    env = run.env()
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == "postgresql+psycopg2://nexus:secret@127.0.0.1:5432/airflow"
    )
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/transform/dags")
    assert env["PATH"].startswith("/opt/transform/bin:")
    assert env["AIRFLOW_VAR_KEYSTONE_NEXUS_TARGET"] == "duckdb"
    assert (env["AIRFLOW_VAR_KEYSTONE_NEXUS_LAKE_BUCKET"], env["AIRFLOW_VAR_KEYSTONE_NEXUS_LAKE_PREFIX"]) == (
        "keystone-nexus-lake",
        "lake",
    )
    connection = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["extra"]["endpoint_url"] == "http://127.0.0.1:5000"
    assert env["NEXUS_TRANSFORM_LAKE"] == str((tmp_path / "lake").resolve())
    assert not [k for k in env if k.startswith("NEXUS_") and not k.startswith("NEXUS_TRANSFORM_")]


def test_without_postgresql_there_is_no_metadata_database(tmp_path: Path) -> None:
    bare = StackInfo(state_dir=tmp_path, bootstrap_servers="b:1", aws_endpoint_url="http://a:2")
    run = AirflowRun(stack=bare, home=tmp_path, lake=tmp_path, warehouse=tmp_path / "w.duckdb", tools=TOOLS)
    with pytest.raises(TransformError, match="without PostgreSQL"):
        run.env()


def test_nexus_dev_airflow_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "dev", "airflow", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # a stack error (errors.ExitStatus)
    assert done.stderr.strip().count("\n") == 0 and "no stack in" in done.stderr, done.stderr
