"""Run the Great Expectations checkpoints of one or more layers (GX Core 1.x).

    python transform/gx/run_checkpoints.py --layer bronze --layer silver --layer gold \
        --engine duckdb --lake .nexus/lake --duckdb .nexus/warehouse.duckdb --out .nexus/gx

One checkpoint per table (`<layer>.<table>`), its suite from suites.py. Locally (`duckdb`)
bronze is read from the lake's Parquet, silver and gold from the dbt DuckDB file; on Athena
(`athena`) every table is a SQL asset of the Glue databases (bronze: the sink's
`bronze_<entity>` tables; silver and gold: `<schema>_silver`, `<schema>_gold`).

Writes `<out>/results/<layer>.json` (every validation result) and the Data Docs site under
`<out>/gx/uncommitted/data_docs/local_site/index.html`; prints one JSON summary line and exits
1 when any checkpoint failed, so a pipeline run stops there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network from a pipeline step

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suites import LAYERS, suites

SILVER_GOLD_SCHEMAS = {"silver": "silver", "gold": "gold"}


def _duckdb_frames(layer: str, tables: list[str], lake: str, warehouse: str) -> dict[str, Any]:
    import duckdb

    frames: dict[str, Any] = {}
    if layer == "bronze":
        con = duckdb.connect()
        for table in tables:
            path = f"{lake.rstrip('/')}/bronze/{table}/*/*/*.parquet"
            frames[table] = con.sql(
                f"select * from read_parquet('{path}', hive_partitioning = true, union_by_name = true)"
            ).df()
    else:
        # Attached under a fixed name: DuckDB names a file's catalog after the file, so a
        # warehouse called gold.duckdb would make `gold.<table>` ambiguous.
        quoted = warehouse.replace("'", "''")
        con = duckdb.connect()
        con.execute(f"attach '{quoted}' as nexus_warehouse (read_only)")
        con.execute("use nexus_warehouse")
        for table in tables:
            frames[table] = con.sql(f"select * from {SILVER_GOLD_SCHEMAS[layer]}.{table}").df()
    con.close()
    return frames


def _athena_url(schema: str) -> str:
    region = os.environ.get("AWS_REGION", "us-east-1")
    staging = os.environ["ATHENA_S3_STAGING_DIR"]
    work_group = os.environ.get("ATHENA_WORK_GROUP", "primary")
    return (
        f"awsathena+rest://@athena.{region}.amazonaws.com:443/{schema}"
        f"?s3_staging_dir={staging}&work_group={work_group}"
    )


def run(layers: list[str], engine: str, lake: str, warehouse: str, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(out))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    summary: dict[str, Any] = {"success": True, "layers": {}}
    for layer in layers:
        layer_suites = suites(layer)
        frames = _duckdb_frames(layer, list(layer_suites), lake, warehouse) if engine == "duckdb" else {}
        source_name = f"{engine}_{layer}"
        if engine == "duckdb":
            source = context.data_sources.add_or_update_pandas(name=source_name)
        else:
            base = os.environ.get("ATHENA_SCHEMA", "keystone_nexus")
            schema = os.environ.get("NEXUS_BRONZE_DATABASE", "keystone_nexus_bronze")
            schema = schema if layer == "bronze" else f"{base}_{layer}"
            source = context.data_sources.add_or_update_sql(
                name=source_name, connection_string=_athena_url(schema)
            )
        results: dict[str, Any] = {}
        for table, expectations in layer_suites.items():
            name = f"{layer}.{table}"
            suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
            if engine == "duckdb":
                asset = source.add_dataframe_asset(name=table)
                batch = asset.add_batch_definition_whole_dataframe(name="all")
                parameters: dict[str, Any] = {"dataframe": frames[table]}
            else:
                identifier = f"bronze_{table}" if layer == "bronze" else table
                asset = source.add_table_asset(name=table, table_name=identifier)
                batch = asset.add_batch_definition_whole_table(name="all")
                parameters = {}
            validation = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            checkpoint = context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=name,
                    validation_definitions=[validation],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
                    result_format={"result_format": "SUMMARY"},
                )
            )
            result = checkpoint.run(batch_parameters=parameters)
            described = json.loads(result.describe())
            failed = [
                r["expectation_type"] + " " + json.dumps(r.get("kwargs", {}), default=str)
                for v in described["validation_results"]
                for r in v["expectations"]
                if not r["success"]
            ]
            results[table] = {"success": result.success, "failed": failed, "result": described}
        layer_ok = all(r["success"] for r in results.values())
        (out / "results").mkdir(exist_ok=True)
        (out / "results" / f"{layer}.json").write_text(json.dumps(results, indent=2, default=str))
        summary["layers"][layer] = {
            "success": layer_ok,
            "checkpoints": len(results),
            "failed": {t: r["failed"] for t, r in results.items() if not r["success"]},
        }
        summary["success"] = summary["success"] and layer_ok
    docs = context.build_data_docs()
    summary["data_docs"] = str(next(iter(docs.values()), "")).removeprefix("file://")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", action="append", choices=LAYERS, help="repeatable; default all")
    parser.add_argument("--engine", choices=["duckdb", "athena"], default="duckdb")
    parser.add_argument("--lake", default=os.environ.get("NEXUS_TRANSFORM_LAKE", ".nexus/lake"))
    parser.add_argument(
        "--duckdb", default=os.environ.get("NEXUS_TRANSFORM_DUCKDB", ".nexus/warehouse.duckdb")
    )
    parser.add_argument("--out", type=Path, default=Path(".nexus/gx"))
    args = parser.parse_args()
    summary = run(args.layer or list(LAYERS), args.engine, args.lake, args.duckdb, args.out)
    print(json.dumps(summary))
    return 0 if summary["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
