"""The local transform run: bronze in a lake directory -> silver and gold in a DuckDB file.

The same steps as the MWAA DAG (transform/dags), on the `duckdb` dbt target:

    GX bronze -> dbt build (silver and gold, with their tests) -> GX silver and gold

A failed step stops the run (`TransformError` names it and its log). dbt and Great
Expectations live in their own environment (`.venv-transform`, built by
scripts/transform_env.sh): dbt-core 1.11 cannot share the main environment's pins. This
module only runs them and reads what they leave: dbt's run_results.json, the GX summary,
and row counts from the DuckDB file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from keystone_nexus.errors import NexusError
from keystone_nexus.lake import warehouse as warehouse_db

T = TypeVar("T")

GOLD_TABLES = (
    "fct_orders",
    "agg_daily_sales",
    "agg_delivery_performance",
    "dim_customers",
    "dim_sellers",
    "dim_products",
)
DEFAULT_PROJECT = Path(__file__).resolve().parents[3] / "transform"


class TransformError(NexusError):
    """A transform step failed or its tools are missing; the message says which and where to look."""


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """Where the transform's tools are: the dbt executable and the Python that has GX."""

    dbt: Path
    python: Path

    @classmethod
    def find(cls, project: Path, bin_dir: Path | None = None) -> Toolchain:
        """`bin_dir`, else `.venv-transform/bin` beside the project, else the PATH."""
        candidates = [bin_dir] if bin_dir else [project.parent / ".venv-transform" / "bin"]
        for directory in candidates:
            if directory and (directory / "dbt").exists() and (directory / "python").exists():
                return cls(dbt=directory / "dbt", python=directory / "python")
        dbt, python = shutil.which("dbt"), shutil.which("python3")
        if dbt and python:
            return cls(dbt=Path(dbt), python=Path(python))
        raise TransformError(
            f"dbt not found in {candidates[0]} nor on PATH: build the transform environment "
            "with scripts/transform_env.sh (make transform-env)"
        )


@dataclass(frozen=True, kw_only=True)
class TransformReport:
    gold_rows: dict[str, int]
    dbt_results: Counter[str]  # status -> count, over models, tests and unit tests
    tests_passed: int
    tests_total: int
    gx: dict[str, Any] = field(default_factory=dict)
    data_docs: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    dbt_steps: list[dict[str, Any]] = field(default_factory=list)  # per model and test

    def steps(self) -> list[dict[str, Any]]:
        """Per dbt model and test, then per GX layer: what the ledger keeps of a run."""
        layers = [
            {"name": layer, "kind": "gx", "status": "pass" if r["success"] else "fail", **r}
            for layer, r in self.gx.get("layers", {}).items()
        ]
        return [*self.dbt_steps, *layers]

    @property
    def gx_success(self) -> bool:
        return bool(self.gx.get("success"))


@dataclass(frozen=True, kw_only=True)
class TransformRun:
    """One local run's inputs and where it writes."""

    lake: Path
    warehouse: Path
    project: Path = DEFAULT_PROJECT
    work_dir: Path | None = None  # dbt target/logs and GX output; default <warehouse>.transform/

    @property
    def work(self) -> Path:
        return self.work_dir or self.warehouse.with_name(self.warehouse.name + ".transform")

    @property
    def staging(self) -> Path:
        """Where dbt builds while GX checks bronze; moved onto `warehouse` once both passed."""
        return self.warehouse.with_name(self.warehouse.name + ".building")

    def env(self, warehouse: Path | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "DBT_TARGET": "duckdb",
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_TARGET_PATH": str(self.work / "dbt-target"),
            "DBT_LOG_PATH": str(self.work / "dbt-logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
            "NEXUS_TRANSFORM_LAKE": str(self.lake.resolve()),
            "NEXUS_TRANSFORM_DUCKDB": str((warehouse or self.warehouse).resolve()),
        }


def _step(
    name: str, argv: list[str], run: TransformRun, warehouse: Path | None = None
) -> subprocess.CompletedProcess[str]:
    run.work.mkdir(parents=True, exist_ok=True)
    log_path = run.work / f"{name}.log"
    env = run.env(warehouse)
    done = subprocess.run(argv, cwd=run.project, env=env, capture_output=True, text=True, check=False)
    log_path.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise TransformError(f"{name} failed (exit {done.returncode}); log: {log_path}\n{tail}")
    return done


def dbt_steps(target_path: Path) -> list[dict[str, Any]]:
    """Per dbt node (model, test, seed...): its name, kind, status and seconds."""
    doc = json.loads((target_path / "run_results.json").read_text())
    return [
        {
            "name": r["unique_id"].split(".")[-1],
            "kind": r["unique_id"].split(".")[0],
            "status": r["status"],
            "seconds": round(float(r.get("execution_time") or 0.0), 3),
        }
        for r in doc["results"]
    ]


def dbt_results(target_path: Path) -> tuple[Counter[str], int, int]:
    """(status counts, tests passed, tests run) from dbt's run_results.json."""
    doc = json.loads((target_path / "run_results.json").read_text())
    statuses: Counter[str] = Counter()
    passed = total = 0
    for result in doc["results"]:
        statuses[result["status"]] += 1
        if result["unique_id"].split(".")[0] in ("test", "unit_test"):
            total += 1
            passed += result["status"] == "pass"
    return statuses, passed, total


def gold_rows(warehouse: Path) -> dict[str, int]:
    with warehouse_db.open_read_only(warehouse) as con:
        counts = {}
        for table in GOLD_TABLES:
            row = con.execute(f"select count(*) from gold.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def _gx(run: TransformRun, tools: Toolchain, layers: list[str]) -> dict[str, Any]:
    argv = [str(tools.python), str(run.project / "gx" / "run_checkpoints.py"), "--engine", "duckdb"]
    argv += ["--lake", str(run.lake.resolve()), "--duckdb", str(run.warehouse.resolve())]
    argv += ["--out", str(run.work / "gx")]
    for layer in layers:
        argv += ["--layer", layer]
    done = subprocess.run(argv, cwd=run.project, env=run.env(), capture_output=True, text=True, check=False)
    (run.work / f"gx-{'-'.join(layers)}.log").write_text(done.stdout + done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        what = "/".join(layers)
        raise TransformError(f"GX {what} did not run (exit {done.returncode}): {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(lines[-1])
    if not summary["success"] or done.returncode != 0:
        failed = {layer: s["failed"] for layer, s in summary["layers"].items() if not s["success"]}
        raise TransformError(
            f"GX checkpoints failed: {json.dumps(failed)}; results in {run.work / 'gx' / 'results'}, "
            f"Data Docs {summary.get('data_docs')}"
        )
    return summary


def _timed(step: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    return step(), time.monotonic() - started


def _remove_duckdb(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def run_transform(run: TransformRun, tools: Toolchain) -> TransformReport:
    """GX bronze and dbt build side by side, then GX silver and gold; raises TransformError
    at the first failure. dbt builds into `run.staging`, which replaces the warehouse only
    once bronze passed its checkpoints too: a failed bronze check leaves no new warehouse,
    as when dbt ran after it (locally every model is rebuilt, nothing is incremental)."""
    if not (run.lake / "bronze").is_dir():
        raise TransformError(f"no bronze layer in {run.lake}: run the sink (nexus run) into it first")
    run.warehouse.parent.mkdir(parents=True, exist_ok=True)
    run.work.mkdir(parents=True, exist_ok=True)
    _remove_duckdb(run.staging)
    seconds: dict[str, float] = {}
    dbt_argv = [str(tools.dbt), "--no-use-colors", "build", "--target", "duckdb"]
    with ThreadPoolExecutor(2, thread_name_prefix="transform") as both:  # two processes: GIL-free
        checking = both.submit(_timed, lambda: _gx(run, tools, ["bronze"]))
        building = both.submit(_timed, lambda: _step("dbt-build", dbt_argv, run, run.staging))
        try:
            bronze, seconds["gx bronze"] = checking.result()
            _, seconds["dbt build"] = building.result()
        except BaseException:
            building.exception()  # let dbt finish before its file goes
            _remove_duckdb(run.staging)
            raise
    _remove_duckdb(run.warehouse)
    run.staging.replace(run.warehouse)
    wal = run.staging.with_name(run.staging.name + ".wal")
    if wal.exists():  # DuckDB checkpoints at close; a log left behind goes with its file
        wal.replace(run.warehouse.with_name(run.warehouse.name + ".wal"))
    statuses, passed, total = dbt_results(run.work / "dbt-target")

    started = time.monotonic()
    after = _gx(run, tools, ["silver", "gold"])
    seconds["gx silver+gold"] = time.monotonic() - started
    layers = {**bronze["layers"], **after["layers"]}
    return TransformReport(
        gold_rows=gold_rows(run.warehouse),
        dbt_results=statuses,
        tests_passed=passed,
        tests_total=total,
        gx={"success": bronze["success"] and after["success"], "layers": layers},
        data_docs=after.get("data_docs", ""),
        seconds=seconds,
        dbt_steps=dbt_steps(run.work / "dbt-target"),
    )
