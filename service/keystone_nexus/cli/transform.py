"""`nexus transform`: dbt silver and gold on DuckDB over a local lake, then Great Expectations."""

from __future__ import annotations

import argparse
from pathlib import Path

from keystone_nexus.cli.arguments import existing_dir, output_dir


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tr = commands.add_parser("transform", help="dbt silver and gold on DuckDB over a local lake, then GX")
    tr.add_argument("--lake", type=Path, required=True, help="the lake directory (holds bronze/)")
    tr.add_argument("--duckdb", type=Path, required=True, help="the DuckDB file silver and gold go to")
    tr.add_argument(
        "--project-dir", type=existing_dir, help="the dbt project (default: the repository's transform/)"
    )
    tr.add_argument(
        "--tools", type=existing_dir, help="bin directory with dbt and GX (default .venv-transform/bin)"
    )
    tr.add_argument(
        "--work-dir", type=output_dir, help="dbt target, logs, GX output (default <duckdb>.transform)"
    )
    tr.set_defaults(func=cmd_transform)


def cmd_transform(args: argparse.Namespace) -> int:
    import asyncio

    from keystone_nexus.config import load_settings
    from keystone_nexus.dev.transform import DEFAULT_PROJECT, Toolchain, TransformRun, run_transform
    from keystone_nexus.state.open import Recorded, record

    settings = load_settings(args.config)
    project = args.project_dir or DEFAULT_PROJECT
    run = TransformRun(lake=args.lake, warehouse=args.duckdb, project=project, work_dir=args.work_dir)
    recorded = Recorded("transform", summary={"lake": str(args.lake), "warehouse": str(args.duckdb)})
    try:
        report = run_transform(run, Toolchain.find(project, args.tools))
    except Exception as exc:
        recorded.summary["error"] = str(exc)
        asyncio.run(record(settings, recorded.row("failed")))
        raise
    recorded.steps = report.steps()
    recorded.summary.update(
        gold_rows=report.gold_rows,
        tests_passed=report.tests_passed,
        tests_total=report.tests_total,
        gx_success=report.gx_success,
        seconds={step: round(s, 2) for step, s in report.seconds.items()},
    )
    asyncio.run(record(settings, recorded.row("succeeded" if report.gx_success else "failed")))
    print(f"{'gold table':<28}{'rows':>10}")
    for table, rows in report.gold_rows.items():
        print(f"{table:<28}{rows:>10,}")
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.dbt_results.items()))
    print(f"dbt: {report.tests_passed}/{report.tests_total} tests passed ({statuses})")
    for layer, result in report.gx["layers"].items():
        state = "success" if result["success"] else "FAILED"
        print(f"GX {layer:<7} {result['checkpoints']} checkpoints: {state}")
    timings = ", ".join(f"{step} {s:.1f} s" for step, s in report.seconds.items())
    print(f"GX success: {report.gx_success}; Data Docs: {report.data_docs}")
    print(f"{timings}; DuckDB: {args.duckdb}")
    return 0 if report.gx_success else 1
