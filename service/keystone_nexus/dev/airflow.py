"""The MWAA DAG (transform/dags) run locally with `airflow dags test`, against the local stack.

    the sink's bronze in the stack's S3 lake (moto) --mirror--> a lake directory for DuckDB
    airflow db migrate          metadata in the stack's PostgreSQL, database `airflow`
    airflow dags test keystone_nexus_transform <the hour after the one to transform>
        wait_for_bronze   the S3 sensor pokes moto for the hour's dt=/hr= partitions
        dbt and GX        on the `duckdb` target (Airflow Variable keystone_nexus_target)
        publish_outcome   its metrics go to moto's CloudWatch (the `aws_default` connection)

Airflow lives in its own environment (.venv-airflow), dbt and GX in .venv-transform (both
built by scripts/transform_env.sh): this module composes the Airflow process's environment,
runs it, and reads what it leaves in the metadata database. An hourly DAG's run processes the
hour before its logical date, so the hour `H` is tested with the logical date `H + 1 h`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from keystone_nexus.dev.mirror import mirror_lake
from keystone_nexus.dev.stack import DUMMY_AWS_CREDENTIALS, StackInfo
from keystone_nexus.dev.transform import DEFAULT_PROJECT, Toolchain, TransformError

DAG_ID = "keystone_nexus_transform"
SENSED_ENTITIES = ("orders", "order_items", "payments")  # the DAG's wait_for_bronze
MIGRATE_TIMEOUT_S = 300.0
DAG_TEST_TIMEOUT_S = 900.0  # a sensor that finds nothing reschedules every 5 minutes


def find_airflow(project: Path = DEFAULT_PROJECT) -> Path:
    """`.venv-airflow/bin/airflow` beside the project, else `airflow` on the PATH."""
    beside = project.parent / ".venv-airflow" / "bin" / "airflow"
    if beside.exists():
        return beside
    found = shutil.which("airflow")
    if found:
        return Path(found)
    raise TransformError(
        f"Airflow not found in {beside.parent} nor on PATH: build its environment with "
        "scripts/transform_env.sh (make transform-env)"
    )


@dataclass(frozen=True, kw_only=True)
class AirflowRun:
    """One local DAG run: the stack it runs against and where it reads and writes."""

    stack: StackInfo
    home: Path  # AIRFLOW_HOME: airflow.cfg and the task logs
    lake: Path  # the local copy of the stack's lake, which dbt and GX read
    warehouse: Path  # the DuckDB file silver and gold go to
    lake_uri: str = ""  # the S3 lake the sensor pokes; default the stack's
    project: Path = DEFAULT_PROJECT
    airflow: Path | None = None  # the `airflow` executable; default find_airflow()
    tools: Toolchain | None = None  # dbt and GX; default Toolchain.find()

    @property
    def work(self) -> Path:
        """dbt's target and logs and the GX output (the Variable keystone_nexus_work_dir)."""
        return self.home / "work"

    def env(self) -> dict[str, str]:
        """The Airflow process's environment: the caller's, less its own Airflow, service and
        AWS settings, plus the local configuration, connection and Variables."""
        if not self.stack.airflow_sql_alchemy_conn:
            raise TransformError(
                "the stack runs without PostgreSQL, which holds Airflow's metadata: "
                "start it without --no-postgres"
            )
        bucket, _, prefix = (self.lake_uri or self.stack.lake_uri).removeprefix("s3://").partition("/")
        tools = self.tools or Toolchain.find(self.project)
        aws = {k: v for k, v in self.stack.env().items() if k.startswith("AWS_")}
        connection = {
            "conn_type": "aws",
            "login": DUMMY_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "password": DUMMY_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "extra": {"endpoint_url": self.stack.aws_endpoint_url, "region_name": self.stack.region},
        }
        own = ("AIRFLOW", "NEXUS_", "AWS_", "DBT_")
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(own)},
            **aws,
            # The steps call `dbt` and `python` (with GX) as on MWAA: the transform's come first.
            "PATH": f"{tools.dbt.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.stack.airflow_sql_alchemy_conn,
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            "AIRFLOW_VAR_KEYSTONE_NEXUS_LAKE_BUCKET": bucket,
            "AIRFLOW_VAR_KEYSTONE_NEXUS_LAKE_PREFIX": prefix,
            "AIRFLOW_VAR_KEYSTONE_NEXUS_TARGET": "duckdb",
            "AIRFLOW_VAR_KEYSTONE_NEXUS_WORK_DIR": str(self.work),
            "NEXUS_TRANSFORM_LAKE": str(self.lake.resolve()),
            "NEXUS_TRANSFORM_DUCKDB": str(self.warehouse.resolve()),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }


def bronze_hours(lake: Path, entities: tuple[str, ...] = SENSED_ENTITIES) -> list[datetime]:
    """The hours (UTC, oldest first) for which every one of `entities` has bronze in `lake`."""
    hours: set[datetime] | None = None
    for entity in entities:
        found = {
            datetime.strptime(f"{p.parent.name}/{p.name}", "dt=%Y-%m-%d/hr=%H").replace(tzinfo=UTC)
            for p in (lake / "bronze" / entity).glob("dt=*/hr=*")
            if any(p.glob("*.parquet"))
        }
        hours = found if hours is None else hours & found
    return sorted(hours or ())


def logical_date(hour: datetime) -> datetime:
    """The logical date of the run that processes `hour` (an hourly DAG's run covers the hour
    before its logical date)."""
    return hour + timedelta(hours=1)


def _airflow(run: AirflowRun, args: list[str], log: Path, timeout: float) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    airflow = run.airflow or find_airflow(run.project)
    try:
        done = subprocess.run(
            [str(airflow), *args],
            env=run.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise TransformError(
            f"Airflow not found at {airflow}: build its environment with "
            "scripts/transform_env.sh (make transform-env)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        log.write_text(str(exc.stdout or "") + str(exc.stderr or ""))
        raise TransformError(f"airflow {args[0]} {args[1]} took over {timeout:.0f} s; log: {log}") from exc
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise TransformError(
            f"airflow {args[0]} {args[1]} failed (exit {done.returncode}); log: {log}\n{tail}"
        )


def migrate(run: AirflowRun) -> None:
    """`airflow db migrate`: create or upgrade the metadata schema in the stack's PostgreSQL."""
    _airflow(run, ["db", "migrate"], run.home / "db-migrate.log", MIGRATE_TIMEOUT_S)


@dataclass(frozen=True, kw_only=True)
class DagRunOutcome:
    """What the metadata database holds of one run of the DAG."""

    logical_date: datetime
    state: str
    data_interval_start: datetime
    tasks: dict[str, str]  # task_id -> state


def read_outcome(run: AirflowRun, when: datetime) -> DagRunOutcome:
    """The DAG's run at logical date `when` and its task instances, from the metadata database."""
    import psycopg

    with psycopg.connect(run.stack.airflow_dsn, connect_timeout=10) as db:
        found = db.execute(
            "SELECT run_id, state, data_interval_start FROM dag_run"
            " WHERE dag_id = %s AND execution_date = %s",
            (DAG_ID, when),
        ).fetchone()
        if found is None:
            raise TransformError(f"no run of {DAG_ID} at {when.isoformat()} in {run.stack.airflow_dsn}")
        run_id, state, start = found
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id)
        ).fetchall()
    return DagRunOutcome(
        logical_date=when, state=str(state), data_interval_start=start, tasks={t: str(s) for t, s in rows}
    )


def run_dag_test(run: AirflowRun, hour: datetime) -> DagRunOutcome:
    """`airflow dags test` of the run that processes `hour`, then its outcome from the metadata
    database. Raises TransformError when the run did not succeed, naming the tasks that did not."""
    when = logical_date(hour)
    log = run.home / "dags-test.log"
    _airflow(run, ["dags", "test", DAG_ID, when.isoformat()], log, DAG_TEST_TIMEOUT_S)
    outcome = read_outcome(run, when)
    if outcome.state != "success":
        others = {t: s for t, s in outcome.tasks.items() if s != "success"}
        raise TransformError(
            f"the run of {DAG_ID} at {when.isoformat()} is {outcome.state}: {others}; log: {log}"
        )
    return outcome


def run_locally(stack: StackInfo, out: Path, *, lake_uri: str = "") -> tuple[AirflowRun, DagRunOutcome]:
    """The whole local run in `out`: copy the stack's S3 lake to `out/lake`, migrate the
    metadata database, `airflow dags test` the newest hour that has bronze for every sensed
    entity; gold goes to `out/warehouse.duckdb`."""
    lake_uri = lake_uri or stack.lake_uri
    lake = out / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    mirror_lake(stack, lake_uri, lake)
    hours = bronze_hours(lake)
    if not hours:
        raise TransformError(
            f"no hour of {lake_uri} has bronze for all of {', '.join(SENSED_ENTITIES)}: "
            "run the sink (nexus run) into it first"
        )
    run = AirflowRun(
        stack=stack, home=out / "home", lake=lake, warehouse=out / "warehouse.duckdb", lake_uri=lake_uri
    )
    migrate(run)
    return run, run_dag_test(run, hours[-1])
