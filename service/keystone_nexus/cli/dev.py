"""`nexus dev up|down|status|env|airflow --state-dir DIR`: the local stack (keystone_nexus.dev.stack),
and the transform DAG run against it (keystone_nexus.dev.airflow).

Failures are :class:`~keystone_nexus.dev.stack.DevStackError`, a NexusError, so the
command line prints them on one line (``nexus: ...``) and exits 1 (FAILED), without a
traceback.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from keystone_nexus.cli.arguments import at_least_one, port
from keystone_nexus.contracts import entities as contracts


def cmd_dev_up(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack

    info = stack.up(
        args.state_dir,
        topics=args.topics or contracts.topics(),
        partitions=args.partitions,
        kafka_port=args.kafka_port,
        aws_port=args.aws_port,
        bucket=args.bucket,
        registry_name=args.registry_name,
        region=args.region,
        postgres=not args.no_postgres,
    )
    print(f"broker      {info.bootstrap_servers}")
    print(f"aws (moto)  {info.aws_endpoint_url}")
    if info.postgres_dsn:
        where = info.postgres_dsn.split("@", 1)[1]
        print(f"postgresql  {where}   (NEXUS_STATE__DSN; Airflow's metadata in database airflow)")
    print(f"lake        {info.lake_uri}")
    print(f"settings    {info.env_file}   (source it: set -a; . {info.env_file}; set +a)")
    return 0


def cmd_dev_down(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack

    stopped = stack.down(args.state_dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_dev_status(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack

    report = stack.status(args.state_dir)
    print(json.dumps(report, indent=2))
    return 0 if report["running"] else 1


def cmd_dev_env(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack

    info = stack.load_info(args.state_dir)
    if info is None or not info.env_file.is_file():
        raise stack.DevStackError(
            f"no stack settings in {args.state_dir}: start one with "
            f"python -m keystone_nexus dev up --state-dir {args.state_dir}"
        )
    print(info.env_file.read_text(), end="")
    return 0


def cmd_dev_airflow(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack
    from keystone_nexus.dev.airflow import run_locally
    from keystone_nexus.dev.transform import gold_rows

    info = stack.load_info(args.state_dir)
    if info is None:
        raise stack.DevStackError(
            f"no stack in {args.state_dir}: start one with "
            f"python -m keystone_nexus dev up --state-dir {args.state_dir}"
        )
    run, outcome = run_locally(info, args.out or args.state_dir / "airflow", lake_uri=args.lake_uri or "")
    start = outcome.data_interval_start
    print(f"run at {outcome.logical_date.isoformat()} (bronze of {start:%Y-%m-%d %H}h): {outcome.state}")
    for task, state in outcome.tasks.items():
        print(f"  {task:<24}{state}")
    for table, rows in gold_rows(run.warehouse).items():
        print(f"{table:<28}{rows:>10,}")
    print(f"DuckDB: {run.warehouse}; Airflow home and logs: {run.home}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dev` and its subcommands to the `nexus` parser."""
    from keystone_nexus.dev.stack import DEFAULT_BUCKET, DEFAULT_REGION, DEFAULT_REGISTRY_NAME

    dev = commands.add_parser("dev", help="the local stack").add_subparsers(dest="dev", required=True)
    up = dev.add_parser("up", help="start the local broker and AWS stand-in (detached)")
    up.add_argument("--state-dir", type=Path, required=True)
    up.add_argument("--partitions", type=at_least_one, default=6)
    up.add_argument(
        "--topic", action="append", dest="topics", metavar="TOPIC", help="repeatable; default: all contracts"
    )
    up.add_argument("--kafka-port", type=port, default=0, help="default: a free loopback port")
    up.add_argument("--aws-port", type=port, default=0, help="default: a free loopback port")
    up.add_argument("--bucket", default=DEFAULT_BUCKET)
    up.add_argument("--registry-name", default=DEFAULT_REGISTRY_NAME)
    up.add_argument("--region", default=DEFAULT_REGION)
    up.add_argument("--no-postgres", action="store_true", help="run the stack without PostgreSQL")
    up.set_defaults(func=cmd_dev_up)
    airflow = dev.add_parser(
        "airflow", help="airflow dags test of the transform DAG over the stack's lake (.venv-airflow)"
    )
    airflow.add_argument("--state-dir", type=Path, required=True)
    airflow.add_argument("--lake-uri", help="the S3 lake the sink wrote (default: the stack's)")
    airflow.add_argument(
        "--out", type=Path, help="lake copy, DuckDB file, Airflow home (default STATE_DIR/airflow)"
    )
    airflow.set_defaults(func=cmd_dev_airflow)
    for name, text, func in (
        ("down", "stop what `dev up` started", cmd_dev_down),
        ("status", "which recorded processes are alive (JSON; exit 1 unless all are)", cmd_dev_status),
        ("env", "print the stack's env file (KEY=VALUE lines)", cmd_dev_env),
    ):
        sub = dev.add_parser(name, help=text)
        sub.add_argument("--state-dir", type=Path, required=True)
        sub.set_defaults(func=func)
