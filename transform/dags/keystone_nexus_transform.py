"""Keystone Nexus transform on Amazon MWAA (Airflow 2.10): bronze -> silver -> gold, hourly.

    wait_for_bronze -> dbt_source_freshness -> gx_bronze -> dbt_silver -> gx_silver
        -> dbt_gold -> gx_gold -> publish_outcome

- waits for the hour's bronze partitions (S3 sensor in reschedule mode, so a waiting run
  holds no worker slot);
- dbt builds silver, then gold, on Athena, with retries; each build runs its models' tests;
- the Great Expectations checkpoints run between the layers: a failed checkpoint fails its
  task, and nothing downstream of it runs;
- `publish_outcome` runs whatever happened, puts `PipelineSucceeded` (1 or 0) and the run's
  duration in CloudWatch, and fails the run again when a step failed.

Deploy: the whole `transform/` folder goes to the environment's DAGs folder (the DAG finds
the dbt project and the GX runner beside it); `transform/requirements.txt` is its
requirements file. Settings are Airflow Variables (read when a task runs, not when the file
is parsed): `keystone_nexus_lake_bucket`, `keystone_nexus_lake_prefix`,
`keystone_nexus_athena_staging_dir`, `keystone_nexus_athena_schema`,
`keystone_nexus_athena_work_group`, `keystone_nexus_bronze_database`,
`keystone_nexus_target` (`athena`; `duckdb` for a local run, with the lake and the DuckDB file
in the worker's NEXUS_TRANSFORM_LAKE and NEXUS_TRANSFORM_DUCKDB) and
`keystone_nexus_work_dir` (dbt's target and logs, the GX results; `/tmp/keystone-nexus`); the
AWS connection is `aws_default`. Run locally against the local stack with
`nexus dev airflow` (keystone_nexus/dev/airflow.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow import DAG
from airflow.exceptions import AirflowException
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.utils.state import TaskInstanceState
from airflow.utils.trigger_rule import TriggerRule

PROJECT = Path(__file__).resolve().parent.parent  # transform/
DAG_ID = "keystone_nexus_transform"
METRIC_NAMESPACE = "KeystoneNexus/Transform"
HOUR_PARTITION = (
    "dt={{ data_interval_start.strftime('%Y-%m-%d') }}/hr={{ data_interval_start.strftime('%H') }}"
)
SENSED_ENTITIES = ("orders", "order_items", "payments")

log = logging.getLogger(__name__)

# Environment of the dbt and GX steps, rendered when the task runs, added to the worker's. The
# target is `athena` on MWAA; a local run (transform/README.md) sets `duckdb`, and its worker's
# environment names the lake and the DuckDB file (NEXUS_TRANSFORM_LAKE, NEXUS_TRANSFORM_DUCKDB).
TARGET = "{{ var.value.get('keystone_nexus_target', 'athena') }}"
WORK_DIR = "{{ var.value.get('keystone_nexus_work_dir', '/tmp/keystone-nexus') }}"
STEP_ENV = {
    "DBT_TARGET": TARGET,
    "DBT_PROFILES_DIR": str(PROJECT),
    "DBT_TARGET_PATH": f"{WORK_DIR}/dbt/target",
    "DBT_LOG_PATH": f"{WORK_DIR}/dbt/logs",
    "ATHENA_S3_STAGING_DIR": (
        "{{ var.value.get('keystone_nexus_athena_staging_dir', 's3://keystone-nexus-athena/staging/') }}"
    ),
    "ATHENA_SCHEMA": "{{ var.value.get('keystone_nexus_athena_schema', 'keystone_nexus') }}",
    "ATHENA_WORK_GROUP": "{{ var.value.get('keystone_nexus_athena_work_group', 'primary') }}",
    "NEXUS_BRONZE_DATABASE": "{{ var.value.get('keystone_nexus_bronze_database', 'keystone_nexus_bronze') }}",
}


def _dbt(command: str) -> str:
    return f"dbt --no-use-colors {command} --project-dir {PROJECT}"


def _gx(layer: str) -> str:
    runner = PROJECT / "gx" / "run_checkpoints.py"
    return f"python {runner} --engine {TARGET} --out {WORK_DIR}/gx --layer {layer}"


def on_failure(context: dict[str, Any]) -> None:
    """A failed task: say which, of which run, where its log is."""
    ti = context["task_instance"]
    log.error(
        "keystone-nexus transform: task %s failed in run %s (try %s): %s",
        ti.task_id,
        context["run_id"],
        ti.try_number,
        ti.log_url,
    )


def publish_outcome(**context: Any) -> None:
    """Put the run's outcome in CloudWatch, then fail when any step failed."""
    dag_run = context["dag_run"]
    failed = [
        ti.task_id
        for ti in dag_run.get_task_instances()
        if ti.task_id != context["task"].task_id
        and ti.state in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED)
    ]
    started = dag_run.start_date or context["data_interval_end"]
    # Never below zero: `airflow dags test` dates a run's start at its logical date, which for
    # the hour just past lies ahead.
    duration = max(0.0, (datetime.now(tz=started.tzinfo) - started).total_seconds())
    dimensions = [{"Name": "Pipeline", "Value": DAG_ID}]
    AwsBaseHook(aws_conn_id="aws_default", client_type="cloudwatch").get_conn().put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            {"MetricName": "PipelineSucceeded", "Dimensions": dimensions, "Value": 0.0 if failed else 1.0},
            {
                "MetricName": "PipelineDuration",
                "Dimensions": dimensions,
                "Value": duration,
                "Unit": "Seconds",
            },
        ],
    )
    if failed:
        raise AirflowException(f"transform failed at: {', '.join(sorted(failed))}")


def _step(task_id: str, command: str) -> BashOperator:
    """A dbt or GX step: a shell command with the step environment added to the worker's."""
    return BashOperator(task_id=task_id, bash_command=command, env=STEP_ENV, append_env=True)


default_args = {
    "owner": "keystone-nexus",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=45),
    "on_failure_callback": on_failure,
}

with DAG(
    dag_id=DAG_ID,
    description="bronze -> silver -> gold on Athena with dbt, guarded by Great Expectations",
    schedule="@hourly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=default_args,
    doc_md=__doc__,
    tags=["keystone-nexus", "dbt", "great-expectations"],
) as dag:
    wait_for_bronze = S3KeySensor(
        task_id="wait_for_bronze",
        bucket_name="{{ var.value.get('keystone_nexus_lake_bucket', 'keystone-nexus-lake') }}",
        bucket_key=[
            "{{ var.value.get('keystone_nexus_lake_prefix', 'lake') }}"
            f"/bronze/{entity}/{HOUR_PARTITION}/*.parquet"
            for entity in SENSED_ENTITIES
        ],
        wildcard_match=True,
        aws_conn_id="aws_default",
        mode="reschedule",
        poke_interval=300,
        timeout=int(timedelta(hours=2).total_seconds()),
        retries=0,
    )
    freshness = _step("dbt_source_freshness", _dbt("source freshness"))
    gx_bronze = _step("gx_bronze", _gx("bronze"))
    dbt_silver = _step("dbt_silver", _dbt("build --select tag:silver"))
    gx_silver = _step("gx_silver", _gx("silver"))
    dbt_gold = _step("dbt_gold", _dbt("build --select tag:gold"))
    gx_gold = _step("gx_gold", _gx("gold"))
    outcome = PythonOperator(
        task_id="publish_outcome",
        python_callable=publish_outcome,
        trigger_rule=TriggerRule.ALL_DONE,
        retries=1,
    )

    wait_for_bronze >> freshness >> gx_bronze >> dbt_silver >> gx_silver >> dbt_gold >> gx_gold >> outcome
