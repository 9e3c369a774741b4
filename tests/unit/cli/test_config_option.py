"""`--config FILE` before the command (`nexus --config x.toml run`) or after it
(`nexus run --config x.toml`); given twice, the one after the command wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystone_nexus.cli.main import build_parser
from keystone_nexus.dev.stack import free_port
from tests.unit.cli.conftest import Nexus


def _settings_file(name: str, port: int) -> Path:
    path = Path(name)
    path.write_text(f'[kafka]\nbootstrap_servers = "127.0.0.1:{port}"\n')
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "x.toml", "run"],
        ["run", "--config", "x.toml"],
        [
            "reprocess",
            "--topic",
            "t",
            "--partition",
            "0",
            "--from-offset",
            "0",
            "--to-offset",
            "1",
            "--config",
            "x.toml",
        ],
        ["dlq", "replay", "--config", "x.toml"],
    ],
)
def test_config_is_taken_before_and_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).config == Path("x.toml")


def test_without_config_there_is_none() -> None:
    assert build_parser().parse_args(["run"]).config is None


def test_the_one_after_the_command_wins() -> None:
    args = build_parser().parse_args(["--config", "a.toml", "topics", "counts", "--config", "b.toml"])
    assert args.config == Path("b.toml")


def test_the_file_after_the_command_is_the_one_read(nexus: Nexus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXUS_KAFKA__BOOTSTRAP_SERVERS")
    before, after = free_port(), free_port()
    _settings_file("before.toml", before)
    _settings_file("after.toml", after)
    ran = nexus("--config", "before.toml", "topics", "counts", "--config", "after.toml")
    assert ran.code == 69
    assert f"Kafka at 127.0.0.1:{after} did not answer" in ran.one_line()


def test_a_missing_file_after_the_command_is_one_line(nexus: Nexus) -> None:
    ran = nexus("topics", "counts", "--config", "missing.toml")
    assert ran.code == 78
    assert ran.one_line().startswith("nexus: config file missing.toml:")
