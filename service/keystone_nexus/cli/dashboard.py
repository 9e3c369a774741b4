"""`nexus dashboard`: the web dashboard, live pipeline and gold, read-only.

The command folds its flags into the settings; which gold source that means (the DuckDB
file or Athena) is decided by the composition root, `wiring.gold_source`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from keystone_nexus.cli.arguments import existing_dir, listen
from keystone_nexus.cli.common import resolved_settings
from keystone_nexus.config import DashboardSettings


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
        "--listen", type=listen, metavar="HOST:PORT", help="default NEXUS_DASHBOARD__LISTEN (127.0.0.1:8788)"
    )
    dash.add_argument("--static-dir", type=existing_dir, help="the built page (default dashboard/dist)")
    dash.set_defaults(func=cmd_dashboard)


def with_flags(dash: DashboardSettings, args: argparse.Namespace) -> DashboardSettings:
    """The settings' dashboard section with the flags given on top: a gold source given by
    flag replaces the settings' one (DuckDB or Athena, whichever it was)."""
    update: dict[str, object] = {}
    if args.duckdb is not None or args.athena_database is not None:
        update.update(duckdb=args.duckdb, athena_database=args.athena_database)
    if args.athena_workgroup:
        update["athena_workgroup"] = args.athena_workgroup
    if args.athena_output:
        update["athena_output"] = args.athena_output
    return dash.model_copy(update=update)


def cmd_dashboard(args: argparse.Namespace) -> int:
    import dataclasses

    from keystone_nexus.contracts.entities import topics
    from keystone_nexus.dashboard import DashboardOptions, serve
    from keystone_nexus.wiring import dashboard_ledger, gold_source

    settings = resolved_settings(args)
    dash = settings.dashboard
    status_url = args.status_url or dash.status_url or f"http://{settings.health.host}:{settings.health.port}"
    host, _, port = (args.listen or dash.listen).rpartition(":")
    gold = gold_source(settings.model_copy(update={"dashboard": with_flags(dash, args)}))
    ledger = dashboard_ledger(settings)
    options = DashboardOptions(
        status_url=status_url, host=host, port=int(port), gold_schema=gold.schema, topics=topics()
    )
    static_dir = args.static_dir or dash.static_dir
    if static_dir is not None:
        options = dataclasses.replace(options, static_dir=static_dir)

    def ready(bound: int) -> None:
        pipeline = "no ledger: NEXUS_STATE__DSN unset" if ledger is None else f"ledger {ledger.describe}"
        print(
            f"dashboard on http://{options.host}:{bound}/  "
            f"(gold {gold.source.describe}, sink {status_url}, {pipeline})",
            flush=True,
        )

    try:
        asyncio.run(serve(gold.source, options, ready, ledger))
    except KeyboardInterrupt:
        return 0
    return 0
