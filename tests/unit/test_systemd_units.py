"""The systemd units verify, and their hardening scores as the issue asks."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from keystone_nexus.errors import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "keystone-nexus.service"
INGEST_UNIT = ROOT / "systemd" / "keystone-ingestion.service"
INGEST_BINARY = ROOT / "ingestion_cpp" / "build" / "olist_ingestion_enterprise"


@dataclass(frozen=True)
class Unit:
    path: Path
    exec_start: str  # the installed program the unit names
    local: Path  # what stands in for it in this checkout (verify wants an executable there)
    max_exposure: float  # `systemd-analyze security`; the unit's comment says what is left open


UNITS = {
    # 1.1 with systemd 252 for both.
    "sink": Unit(UNIT, "/opt/keystone-nexus/.venv/bin/nexus", Path(sys.executable).parent / "nexus", 1.2),
    "ingestion": Unit(
        INGEST_UNIT,
        "/opt/keystone-nexus/ingestion/olist_ingestion_enterprise",
        INGEST_BINARY if INGEST_BINARY.exists() else Path("/bin/true"),  # before `make cpp`
        1.5,
    ),
}


def _installed_copy(unit: Unit, tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's program, as an install would."""
    copy = tmp_path / unit.path.name
    text = unit.path.read_text().replace(unit.exec_start, str(unit.local))
    copy.write_text(text.replace(UNITS["sink"].exec_start, str(UNITS["sink"].local)))  # nexus secrets exec
    return copy


def _analyze(tmp_path: Path, *argv: str) -> str:
    done = subprocess.run(
        ["systemd-analyze", *argv], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_verifies(name: str, tmp_path: Path) -> None:
    unit = UNITS[name]
    output = _analyze(tmp_path, "verify", str(_installed_copy(unit, tmp_path)))
    problems = [
        line for line in output.splitlines() if unit.path.name in line and "EnvironmentFile" not in line
    ]
    assert not problems, problems


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_is_hardened(name: str, tmp_path: Path) -> None:
    unit = UNITS[name]
    output = _analyze(tmp_path, "security", "--offline=true", str(_installed_copy(unit, tmp_path)))
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", output)
    assert match, output
    assert float(match.group(1)) <= unit.max_exposure


def _restart_prevented(unit_text: str) -> set[int]:
    lines = re.findall(r"^RestartPreventExitStatus=(.*)$", unit_text, re.MULTILINE)
    return {int(status) for line in lines for status in line.split()}


def test_the_unit_speaks_notify_and_matches_the_drain_bound() -> None:
    text = UNIT.read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=on-failure" in text
    assert _restart_prevented(text) == {
        ExitStatus.FAILED,
        ExitStatus.USAGE,
        ExitStatus.DATA,
        ExitStatus.CONFIG,
    }, "a refused start-up is not restarted; a dependency gone (69) or a bug (70) is"
    stop = int(re.search(r"TimeoutStopSec=(\d+)", text).group(1))  # type: ignore[union-attr]
    from keystone_nexus.config import SinkSettings

    assert stop > SinkSettings().drain_timeout_s


def test_the_ingestion_unit_speaks_notify_and_outlasts_the_shutdown_grace() -> None:
    text = INGEST_UNIT.read_text()
    assert "Type=notify" in text and "Restart=on-failure" in text and "User=keystone-ingest" in text
    assert "WatchdogSec=" in text
    assert _restart_prevented(text) == {ExitStatus.USAGE, ExitStatus.CONFIG}, (
        "the C++ server (and `nexus secrets exec` before it) exits 78 on a bad setting and 2 on a bad "
        "command line, as `nexus`"
    )
    assert "NEXUS_INGEST__LISTEN=0.0.0.0:50051" in text and "NEXUS_INGEST__TLS_CERT" in text
    (start,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
    assert start.split()[1:4] == ["secrets", "exec", "--"], "its secret references are resolved first"
    stop = int(re.search(r"TimeoutStopSec=(\d+)", text).group(1))  # type: ignore[union-attr]
    from keystone_nexus.config import IngestSettings

    assert stop > IngestSettings().shutdown_grace_s + 30  # the grace, then the producer's flush (30 s)
