"""`nexus reprocess` refuses what cannot be a range before it opens the registry, the
lake or Kafka: one line, the usage status (2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.conftest import Nexus

ORDERS = "olist.orders.v1"


def _reprocess(nexus: Nexus, partition: str, start: str, end: str, topic: str = ORDERS) -> str:
    ran = nexus(
        "reprocess", "--topic", topic, "--partition", partition, "--from-offset", start, "--to-offset", end
    )
    assert ran.code == 2
    assert not Path(".nexus").exists(), "the registry was opened before the arguments were checked"
    return ran.one_line()


@pytest.mark.parametrize(
    ("partition", "start", "end", "named"),
    [
        ("-1", "0", "5", "--partition"),
        ("0", "-3", "5", "--from-offset"),
        ("0", "0", "-1", "--to-offset"),
        ("zero", "0", "5", "--partition"),
    ],
)
def test_a_negative_partition_or_offset_is_named(
    nexus: Nexus, partition: str, start: str, end: str, named: str
) -> None:
    line = _reprocess(nexus, partition, start, end)
    assert f"argument {named}: not a whole number >= 0" in line, line


def test_an_inverted_range_says_which_way_round(nexus: Nexus) -> None:
    line = _reprocess(nexus, "0", "10", "5")
    assert line == (
        "nexus: --from-offset 10 is after --to-offset 5: the range is inclusive, "
        "give --from-offset <= --to-offset"
    )


def test_an_unknown_topic_is_named(nexus: Nexus) -> None:
    line = _reprocess(nexus, "0", "0", "5", topic="orders")
    assert line == "nexus: topic 'orders' is not an olist.<entity>.v1 topic", line


def test_a_one_offset_range_is_accepted(nexus: Nexus) -> None:
    # Past the argument checks: the empty lake has no checkpoint to reprocess below.
    ran = nexus("reprocess", "--topic", ORDERS, "--partition", "0", "--from-offset", "5", "--to-offset", "5")
    assert ran.code == 1
    assert "has no checkpoint in the lake" in ran.one_line()
