"""--json on `nexus lake summary` and `nexus dlq list`: one JSON document on stdout, the
table's numbers under stable keys. Over a lake the sink wrote (and `nexus topics counts
--json` against a broker): tests/integration/test_redrive_reprocess.py::test_the_commands."""

from __future__ import annotations

import json

from keystone_nexus.contracts import entities as contracts
from tests.unit.cli.conftest import Nexus


def test_lake_summary_of_an_empty_lake(nexus: Nexus) -> None:
    ran = nexus("lake", "summary", "--json")
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    assert doc["lake"].startswith("file://")
    assert list(doc["entities"]) == [spec.name for spec in contracts.entities()]
    assert doc["entities"]["orders"] == {"bronze_rows": 0, "bronze_files": 0, "dead_lettered": 0}
    assert doc["total"] == {"bronze_rows": 0, "bronze_files": 0, "dead_lettered": 0}
    assert doc["dead_letter_reasons"] == [] and doc["redriven"] == 0


def test_dlq_list_of_an_empty_lake(nexus: Nexus) -> None:
    ran = nexus("dlq", "list", "--json", "--entity", "orders")
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    assert doc["dead_letters"] == []
    assert doc["total"] == {"dead": 0, "redriven": 0, "outstanding": 0}


def test_without_json_it_is_the_table(nexus: Nexus) -> None:
    ran = nexus("lake", "summary")
    assert ran.code == 0
    assert ran.out.splitlines()[1].split() == ["entity", "bronze", "rows", "files", "dead-lettered"]
