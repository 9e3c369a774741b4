"""Bad input at the command line: one line on stderr naming what is wrong and what to do,
no traceback, and nothing done before the check (no schema synced, nothing produced).

`nexus run` with Kafka down waits for it rather than failing: tests/unit/test_run_startup.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystone_nexus.olist.generate import generate
from tests.unit.cli.conftest import Nexus


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "dataset"
    generate(out, scale=0.001, seed=7)
    return out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["olist", "generate", "--scale", "-1", "--out", "ds"], "--scale"),
        (["olist", "generate", "--scale", "nan", "--out", "ds"], "--scale"),
        (["olist", "generate", "--seed", "-1", "--out", "ds"], "--seed"),
        (["olist", "generate", "--out", "a-file"], "--out"),
        (["replay", "--from", ".", "--rate", "0"], "--rate"),
        (["replay", "--from", ".", "--limit", "-1"], "--limit"),
        (["replay", "--from", ".", "--via", "grpc://127.0.0.1:1", "--batch", "0"], "--batch"),
        (["replay", "--from", ".", "--via", "grpc://127.0.0.1:1", "--in-flight", "0"], "--in-flight"),
        (["replay", "--from", ".", "--via", "http://127.0.0.1:1"], "--via"),
        (["replay", "--from", ".", "--rejects", "no-such-dir/rejects.jsonl"], "--rejects"),
        (["run", "--log-level", "loud"], "--log-level"),
        (["run", "--until-idle", "-1"], "--until-idle"),
        (["lake", "summary", "--reasons", "-1"], "--reasons"),
        (["top", "--interval", "0"], "--interval"),
        (["cloudwatch", "alarms", "--lag-periods", "0"], "--lag-periods"),
        (["cloudwatch", "alarms", "--lag-threshold", "-5"], "--lag-threshold"),
        (["config", "docs", "--out", "no-such-dir/configuration.md"], "--out"),
        (["schemas", "sync", "--ids-out", "."], "--ids-out"),
        (["ingest", "serve", "--listen", "nowhere"], "--listen"),
        (["ingest", "serve", "--brokers", "kafka"], "--brokers"),
        (["ingest", "serve", "--max-batch-events", "0"], "--max-batch-events"),
        (["ingest", "serve", "--schema-ids", "missing.json"], "--schema-ids"),
        (["dev", "up", "--state-dir", "s", "--kafka-port", "70000"], "--kafka-port"),
        (["demo", "--scale", "0"], "--scale"),
        (["demo", "--partitions", "0"], "--partitions"),
        (["transform", "--lake", ".", "--duckdb", "w.duckdb", "--project-dir", "missing"], "--project-dir"),
        (["dashboard", "--duckdb", "w.duckdb", "--static-dir", "missing"], "--static-dir"),
    ],
)
def test_a_bad_argument_is_named_on_one_line(nexus: Nexus, argv: list[str], named: str) -> None:
    Path("a-file").write_text("not a folder\n")
    ran = nexus(*argv)
    assert ran.code == 2
    line = ran.one_line()
    assert named in line and f"nexus {argv[0]}" in line and "--help" in line, line


def test_a_usage_error_is_one_line_not_the_usage(nexus: Nexus) -> None:
    ran = nexus("reprocess", "--topic", "olist.orders.v1")
    assert ran.code == 2
    assert "the following arguments are required: --partition" in ran.one_line()


def test_help_and_version_exit_0(nexus: Nexus) -> None:
    assert nexus("--version").code == 0
    ran = nexus("olist", "generate", "--help")
    assert ran.code == 0 and "--scale" in ran.out


def test_replay_from_a_missing_folder_says_so_and_syncs_nothing(nexus: Nexus) -> None:
    ran = nexus("replay", "--from", "no-such-dataset")
    assert ran.code == 2
    line = ran.one_line()
    assert "--from" in line and "no-such-dataset" in line and "nexus olist generate" in line, line
    assert not Path(".nexus").exists(), "schemas were synced before the folder was checked"


def test_replay_of_a_folder_without_an_entity_file_names_the_file(nexus: Nexus, dataset: Path) -> None:
    (dataset / "olist_orders_dataset.csv").unlink()
    ran = nexus("replay", "--from", str(dataset))
    assert ran.code == 65  # DATA
    line = ran.one_line()
    assert "olist_orders_dataset.csv" in line and str(dataset) in line, line
    assert not Path(".nexus").exists()


def test_replay_of_a_folder_with_a_wrong_header_sends_nothing(nexus: Nexus, dataset: Path) -> None:
    orders = dataset / "olist_orders_dataset.csv"
    lines = orders.read_text().splitlines(keepends=True)
    orders.write_text("a,b,c\n" + "".join(lines[1:]))
    ran = nexus("replay", "--from", str(dataset))
    assert ran.code == 65  # DATA
    line = ran.one_line()
    assert str(orders) in line and "header" in line and "order_id" in line, line
    assert ran.out == "", "the entities before orders were replayed"
    assert not Path(".nexus").exists()


def test_replay_of_unknown_entities_names_the_known_ones(nexus: Nexus, dataset: Path) -> None:
    ran = nexus("replay", "--from", str(dataset), "--entities", "orders,bogus")
    assert ran.code == 2
    line = ran.one_line()
    assert "'bogus'" in line and "order_items" in line, line


def test_replay_with_kafka_unreachable_says_so_before_sending(nexus: Nexus, dataset: Path) -> None:
    ran = nexus("replay", "--from", str(dataset), "--limit", "5")
    assert ran.code == 69  # UNAVAILABLE
    line = ran.one_line()
    assert "Kafka" in line and "NEXUS_KAFKA__BOOTSTRAP_SERVERS" in line, line
    assert ran.out == ""


def test_topics_counts_with_kafka_unreachable_is_one_line(nexus: Nexus) -> None:
    ran = nexus("topics", "counts")
    assert ran.code == 69  # UNAVAILABLE
    line = ran.one_line()
    assert "Kafka" in line and "NEXUS_KAFKA__BOOTSTRAP_SERVERS" in line, line
