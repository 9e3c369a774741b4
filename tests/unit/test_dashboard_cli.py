"""`nexus dashboard` takes its options from flags or from settings (NEXUS_DASHBOARD__*),
and a bad or missing option stops it with a message naming it, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from keystone_nexus.cli.dashboard import with_flags
from keystone_nexus.cli.main import build_parser
from keystone_nexus.config import DashboardSettings, Settings, StateSettings, load_settings
from keystone_nexus.dashboard import AthenaGold, DuckDBGold, PostgresLedger
from keystone_nexus.errors import ConfigError
from keystone_nexus.wiring import dashboard_ledger, gold_source
from tests.dashboardkit import dashboard_about


def _nexus(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_settings_name_a_bad_listen_address_and_refuse_two_gold_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXUS_DASHBOARD__LISTEN", "8788")
    with pytest.raises(
        ConfigError, match=r"dashboard\.listen \(env NEXUS_DASHBOARD__LISTEN\).*not HOST:PORT"
    ):
        load_settings(None)
    monkeypatch.setenv("NEXUS_DASHBOARD__LISTEN", "127.0.0.1:8788")
    monkeypatch.setenv("NEXUS_DASHBOARD__DUCKDB", "/tmp/w.duckdb")
    monkeypatch.setenv("NEXUS_DASHBOARD__ATHENA_DATABASE", "gold")
    with pytest.raises(ConfigError, match=r"NEXUS_DASHBOARD__ATHENA_DATABASE.*not both"):
        load_settings(None)


@pytest.mark.parametrize("listen", ["foo", "127.0.0.1:99999", ":8788"])
def test_a_bad_listen_flag_is_named(listen: str, tmp_path: Path) -> None:
    done = _nexus("dashboard", "--duckdb", str(tmp_path / "w.duckdb"), "--listen", listen)
    assert done.returncode == 2
    assert "--listen" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_without_a_gold_source_it_says_how_to_give_one() -> None:
    done = _nexus("dashboard")
    assert done.returncode == 78  # CONFIG
    assert "--duckdb" in done.stderr and "NEXUS_DASHBOARD__DUCKDB" in done.stderr, done.stderr


def test_the_gold_source_and_address_come_from_settings(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "NEXUS_DASHBOARD__DUCKDB": str(warehouse),
        "NEXUS_DASHBOARD__LISTEN": f"127.0.0.1:{port}",
        "NEXUS_DASHBOARD__STATUS_URL": "http://127.0.0.1:9",
    }
    about, errors = dashboard_about(env, port)
    assert about is not None, errors[-2000:]
    assert about["gold"] == f"duckdb:{warehouse}"


def test_the_composition_root_chooses_the_gold_source_from_settings(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    local = gold_source(Settings(dashboard=DashboardSettings(duckdb=warehouse)))
    assert isinstance(local.source, DuckDBGold) and local.schema == "gold"
    athena = gold_source(
        Settings(dashboard=DashboardSettings(athena_database="nexus_gold", athena_workgroup="wg"))
    )
    assert isinstance(athena.source, AthenaGold) and athena.schema == "nexus_gold"
    assert athena.source.describe == "athena:AwsDataCatalog.nexus_gold (workgroup wg)"
    with pytest.raises(ConfigError, match="--duckdb FILE or --athena-database DB"):
        gold_source(Settings(dashboard=DashboardSettings()))


def test_a_gold_source_flag_replaces_the_settings_one(tmp_path: Path) -> None:
    in_settings = DashboardSettings(athena_database="nexus_gold", athena_workgroup="wg")
    args = build_parser().parse_args(["dashboard", "--duckdb", str(tmp_path / "w.duckdb")])
    dash = with_flags(in_settings, args)
    assert (dash.duckdb, dash.athena_database) == (tmp_path / "w.duckdb", None)
    args = build_parser().parse_args(["dashboard", "--athena-output", "s3://results/"])
    dash = with_flags(in_settings, args)
    assert (dash.athena_database, dash.athena_workgroup, dash.athena_output) == (
        "nexus_gold",
        "wg",
        "s3://results/",
    )


def test_the_ledger_is_read_only_when_state_dsn_is_set_and_named_without_its_password() -> None:
    assert dashboard_ledger(Settings()) is None
    ledger = dashboard_ledger(
        Settings(state=StateSettings(dsn="postgresql://nexus:s3cret@db.internal:5433/state"))
    )
    assert isinstance(ledger, PostgresLedger)
    assert ledger.describe == "postgresql:nexus@db.internal:5433/state"


def test_the_ledger_in_about_comes_from_state_dsn(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")},
        "NEXUS_DASHBOARD__DUCKDB": str(tmp_path / "w.duckdb"),
        "NEXUS_DASHBOARD__LISTEN": f"127.0.0.1:{port}",
        "NEXUS_STATE__DSN": "postgresql://nexus:s3cret@127.0.0.1:9/state",  # nothing listens: read lazily
    }
    about, errors = dashboard_about(env, port)
    assert about is not None, errors[-2000:]
    assert about["ledger"] == "postgresql:nexus@127.0.0.1:9/state"
