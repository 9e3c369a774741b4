"""Running the `nexus` command line in-process: `main()` with the environment cleared of
NEXUS_* settings, the working directory a fresh one (no .env, the registry and lake in
it), and Kafka pointed at a port nothing listens on."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from keystone_nexus.cli.main import main
from keystone_nexus.dev.stack import free_port


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def one_line(self) -> str:
        """The one line on stderr (and no traceback), for a failure."""
        assert "Traceback" not in self.err, self.err
        assert len(self.err_lines) == 1, self.err
        return self.err_lines[0]


Nexus = Callable[..., Ran]


@pytest.fixture
def nexus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Nexus:
    for name in list(os.environ):
        if name.startswith("NEXUS_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("NEXUS_LAKE__URI", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("NEXUS_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
