"""The sink's log level: a setting (NEXUS_SINK__LOG_LEVEL, the servers' words: debug,
info, warn, error), `nexus run --log-level` over it. The daemon applying it is
tests/unit/test_run_startup.py."""

from __future__ import annotations

import logging

import pytest

from keystone_nexus.cli.main import build_parser
from keystone_nexus.config import load_settings
from keystone_nexus.errors import ConfigError
from keystone_nexus.ops import logs
from tests.unit.cli.conftest import Nexus


@pytest.mark.parametrize(
    ("given", "name"),
    [("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARNING"), ("WARNING", "WARNING"), ("error", "ERROR")],
)
def test_the_settings_words_are_logging_levels(given: str, name: str) -> None:
    assert logs.level_name(given) == name
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure(given)
        assert root.level == getattr(logging, name)
    finally:
        root.handlers[:], root.level = handlers, level


def test_the_setting_defaults_to_info_and_takes_the_servers_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXUS_SINK__LOG_LEVEL", raising=False)
    assert load_settings(None, env_file=None).sink.log_level == "info"
    monkeypatch.setenv("NEXUS_SINK__LOG_LEVEL", "warn")
    assert load_settings(None, env_file=None).sink.log_level == "warn"


def test_a_bad_level_setting_is_named(nexus: Nexus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_SINK__LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match=r"sink\.log_level \(env NEXUS_SINK__LOG_LEVEL\)"):
        load_settings(None, env_file=None)
    ran = nexus("run")
    assert ran.code == 78 and "NEXUS_SINK__LOG_LEVEL" in ran.one_line()


def test_without_the_flag_the_setting_decides() -> None:
    assert build_parser().parse_args(["run"]).log_level is None
    assert build_parser().parse_args(["run", "--log-level", "WARN"]).log_level == "warn"
