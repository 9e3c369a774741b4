"""The local transform's pure parts: reading dbt's run results, finding the toolchain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keystone_nexus.dev.transform import Toolchain, TransformError, TransformRun, dbt_results


def _results(tmp_path: Path, *rows: tuple[str, str]) -> Path:
    doc = {"results": [{"unique_id": uid, "status": status} for uid, status in rows]}
    (tmp_path / "run_results.json").write_text(json.dumps(doc))
    return tmp_path


def test_counts_tests_and_unit_tests_but_not_models(tmp_path: Path) -> None:
    target = _results(
        tmp_path,
        ("model.keystone_nexus.fct_orders", "success"),
        ("test.keystone_nexus.unique_fct_orders_order_id.abc", "pass"),
        ("test.keystone_nexus.not_null_fct_orders_order_id.def", "fail"),
        ("unit_test.keystone_nexus.stg_orders.dedup", "pass"),
    )
    statuses, passed, total = dbt_results(target)
    assert (passed, total) == (2, 3)
    assert statuses == {"success": 1, "pass": 2, "fail": 1}


def test_a_missing_toolchain_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TransformError, match=r"scripts/transform_env\.sh"):
        Toolchain.find(tmp_path / "transform")


def test_the_toolchain_is_found_in_a_bin_directory(tmp_path: Path) -> None:
    for name in ("dbt", "python"):
        (tmp_path / name).touch()
    assert Toolchain.find(tmp_path / "transform", tmp_path) == Toolchain(
        dbt=tmp_path / "dbt", python=tmp_path / "python"
    )


def test_the_run_points_dbt_and_gx_at_the_lake_and_the_warehouse(tmp_path: Path) -> None:
    run = TransformRun(
        lake=tmp_path / "lake", warehouse=tmp_path / "w.duckdb", project=tmp_path / "transform"
    )
    env = run.env()
    assert env["NEXUS_TRANSFORM_LAKE"] == str((tmp_path / "lake").resolve())
    assert env["NEXUS_TRANSFORM_DUCKDB"] == str((tmp_path / "w.duckdb").resolve())
    assert env["DBT_TARGET"] == "duckdb" and env["DBT_PROFILES_DIR"] == str(tmp_path / "transform")
    assert run.work == tmp_path / "w.duckdb.transform"
