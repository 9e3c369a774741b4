"""`nexus dashboard`: the web dashboard, live pipeline and gold, read-only."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from keystone_nexus.cli.common import resolved_settings
from keystone_nexus.config import listen_address
from keystone_nexus.errors import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dash = commands.add_parser("dashboard", help="the web dashboard: live pipeline and gold, read-only")
    gold_from = dash.add_mutually_exclusive_group()
    gold_from.add_argument(
        "--duckdb",
        type=Path,
        help="the DuckDB warehouse holding gold, opened read-only (NEXUS_DASHBOARD__DUCKDB)",
    )
    gold_from.add_argument(
        "--athena-database",
        metavar="DB",
        help="gold in Athena, e.g. keystone_nexus_gold (NEXUS_DASHBOARD__...)",
    )
    dash.add_argument("--athena-workgroup", help="default NEXUS_DASHBOARD__ATHENA_WORKGROUP (primary)")
    dash.add_argument(
        "--athena-output", metavar="S3_URI", help="query results location (if the workgroup has none)"
    )
    dash.add_argument(
        "--status-url", help="the sink's health server (default NEXUS_DASHBOARD__STATUS_URL, else health)"
    )
    dash.add_argument(
        "--listen", metavar="HOST:PORT", help="default NEXUS_DASHBOARD__LISTEN (127.0.0.1:8788)"
    )
    dash.add_argument("--static-dir", type=Path, help="the built page (default dashboard/dist)")
    dash.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    import dataclasses

    from keystone_nexus.aws.clients import client
    from keystone_nexus.dashboard import AthenaGold, DashboardOptions, DuckDBGold, GoldSource, serve
    from keystone_nexus.wiring import aws_options

    settings = resolved_settings(args)
    dash = settings.dashboard
    status_url = args.status_url or dash.status_url or f"http://{settings.health.host}:{settings.health.port}"
    try:
        host, _, port = listen_address(args.listen or dash.listen).rpartition(":")
    except ValueError as exc:
        raise ConfigError(f"--listen: {exc}") from None
    duckdb, database = args.duckdb, args.athena_database
    if duckdb is None and database is None:
        duckdb, database = dash.duckdb, dash.athena_database
    source: GoldSource
    if database is not None:
        aws = aws_options(settings.aws)
        source = AthenaGold(
            lambda: client(aws, "athena"),
            database=database,
            workgroup=args.athena_workgroup or dash.athena_workgroup,
            output_location=args.athena_output or dash.athena_output,
        )
        schema = database
    elif duckdb is not None:
        source = DuckDBGold(duckdb)
        schema = "gold"
    else:
        raise ConfigError(
            "no gold source: give --duckdb FILE or --athena-database DB "
            "(or set NEXUS_DASHBOARD__DUCKDB or NEXUS_DASHBOARD__ATHENA_DATABASE)"
        )
    options = DashboardOptions(status_url=status_url, host=host, port=int(port), gold_schema=schema)
    static_dir = args.static_dir or dash.static_dir
    if static_dir is not None:
        options = dataclasses.replace(options, static_dir=static_dir)

    def ready(bound: int) -> None:
        print(
            f"dashboard on http://{options.host}:{bound}/  (gold {source.describe}, sink {status_url})",
            flush=True,
        )

    try:
        asyncio.run(serve(source, options, ready))
    except KeyboardInterrupt:
        return 0
    return 0
