"""`nexus dashboard` takes its options from flags or from settings (NEXUS_DASHBOARD__*),
and a bad or missing option stops it with a message naming it, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from keystone_nexus.config import load_settings
from keystone_nexus.errors import ConfigError
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
    assert done.returncode == 2
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
