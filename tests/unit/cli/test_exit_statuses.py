"""The exit statuses: one list (errors.ExitStatus), the error tree mapped onto it, and the
same list in `nexus --help` and in the operator's guide."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from keystone_nexus.cli import topics
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError
from keystone_nexus.contracts.avro_batch import AvroSchemaError
from keystone_nexus.contracts.entities import UnknownEntityError
from keystone_nexus.errors import (
    EXIT_STATUSES,
    CatalogError,
    ConfigError,
    ExitStatus,
    FencingUnsupportedError,
    IncompatibleSchemaError,
    KafkaUnavailableError,
    MskIamError,
    NexusError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    StartupError,
    StoreError,
    StoreUnavailableError,
    exit_status,
)
from keystone_nexus.olist.reader import DatasetError
from keystone_nexus.repair.reprocess import ReprocessError
from tests.unit.cli.conftest import Nexus

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "operators-guide.md"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("x"), ExitStatus.CONFIG),
        (StartupError("x"), ExitStatus.CONFIG),
        (FencingUnsupportedError("x"), ExitStatus.CONFIG),
        (MskIamError("no credentials"), ExitStatus.CONFIG),
        (MskIamError("slow", retriable=True), ExitStatus.UNAVAILABLE),
        (DatasetError("x"), ExitStatus.DATA),
        (SchemaNotFoundError("x"), ExitStatus.DATA),
        (IncompatibleSchemaError("x"), ExitStatus.DATA),
        (UnsupportedSchemaError("x"), ExitStatus.DATA),
        (AvroSchemaError("x"), ExitStatus.DATA),
        (UnknownEntityError("x"), ExitStatus.USAGE),
        (KafkaUnavailableError("x"), ExitStatus.UNAVAILABLE),
        (StoreUnavailableError("x"), ExitStatus.UNAVAILABLE),
        (RegistryUnavailableError("x"), ExitStatus.UNAVAILABLE),
        (CatalogError("throttled", retriable=True), ExitStatus.UNAVAILABLE),
        (CatalogError("AccessDenied"), ExitStatus.FAILED),
        (StoreError("no such bucket"), ExitStatus.FAILED),
        (ReprocessError("x"), ExitStatus.FAILED),
        (NexusError("x"), ExitStatus.FAILED),
    ],
)
def test_each_error_ends_with_its_status(error: NexusError, status: ExitStatus) -> None:
    assert exit_status(error) is status


def test_every_status_has_a_meaning() -> None:
    assert set(EXIT_STATUSES) == set(ExitStatus)


def test_the_help_lists_every_status(nexus: Nexus) -> None:
    ran = nexus("--help")
    assert ran.code == 0
    listed = ran.out.split("exit statuses:", 1)[1]
    for status in ExitStatus:
        assert re.search(rf"^  {status.value}\s+{status.name}\s", listed, re.MULTILINE), status


def test_the_operators_guide_lists_every_status() -> None:
    text = GUIDE.read_text()
    rows = dict(re.findall(r"^\| (\d+) \| ([A-Z]+) \|", text, re.MULTILINE))
    assert rows == {str(s.value): s.name for s in ExitStatus}


def test_a_nexus_error_is_one_line_and_its_status(nexus: Nexus, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(args: argparse.Namespace) -> int:
        raise ConfigError("kafka.topics (env NEXUS_KAFKA__TOPICS): empty: name at least one topic")

    monkeypatch.setattr(topics, "cmd_topics_counts", refuse)
    ran = nexus("topics", "counts")
    assert ran.code == ExitStatus.CONFIG
    assert ran.one_line() == "nexus: kafka.topics (env NEXUS_KAFKA__TOPICS): empty: name at least one topic"


def test_a_bug_prints_its_traceback_and_exits_software(nexus: Nexus, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(topics, "cmd_topics_counts", broken)
    ran = nexus("topics", "counts")
    assert ran.code == ExitStatus.SOFTWARE
    assert "Traceback" in ran.err and "ZeroDivisionError: a bug" in ran.err
