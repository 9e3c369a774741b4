"""The dashboard's gold sources at unit level: the Athena adapter against a stand-in client
(start_query_execution, get_query_execution, get_query_results pages; no AWS account and no
Athena emulator here, so its SQL is only proven on DuckDB), the queries' guard, the CLI's
defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keystone_nexus.cli.main import build_parser
from keystone_nexus.config import Settings
from keystone_nexus.dashboard import AthenaGold, DashboardOptions, GoldViews, Queries
from keystone_nexus.dashboard.athena import typed_rows
from keystone_nexus.errors import GoldError, GoldNotBuiltError, GoldUnavailableError


def _page(kinds: list[str], rows: list[list[str | None]], header: bool) -> dict[str, Any]:
    names = [{"VarCharValue": f"c{i}"} for i in range(len(kinds))]
    data = ([{"Data": names}] if header else []) + [
        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
    ]
    return {
        "ResultSet": {
            "Rows": data,
            "ResultSetMetadata": {"ColumnInfo": [{"Name": f"c{i}", "Type": k} for i, k in enumerate(kinds)]},
        }
    }


def test_typed_rows_drop_the_header_and_type_each_column() -> None:
    kinds = ["varchar", "bigint", "double", "date", "decimal(10,2)", "boolean"]
    pages = [
        _page(kinds, [["SP", "12", "0.75", "2018-01-02", "10.50", "true"]], header=True),
        _page(kinds, [["RJ", None, None, None, "1", "false"]], header=False),
    ]
    assert typed_rows(pages) == [
        ("SP", 12, 0.75, "2018-01-02", 10.5, True),
        ("RJ", None, None, None, 1.0, False),
    ]


class FakeAthena:
    """Answers like the Athena API: a query goes QUEUED, RUNNING, then `final`."""

    def __init__(self, pages: list[dict[str, Any]], final: str = "SUCCEEDED", reason: str = "") -> None:
        self.pages, self.final, self.reason = pages, final, reason
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.polls = 0
        self.never_ends = False

    async def start_query_execution(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"QueryExecutionId": f"q{len(self.started)}"}

    async def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.polls += 1
        states = ["QUEUED", "RUNNING"]
        state = "RUNNING" if self.never_ends else (states[self.polls - 1] if self.polls <= 2 else self.final)
        status: dict[str, Any] = {"State": state}
        if self.reason:
            status["StateChangeReason"] = self.reason
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId, "Status": status}}

    async def stop_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.stopped.append(QueryExecutionId)
        return {}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        pages = self.pages

        class Paginator:
            def paginate(self, QueryExecutionId: str) -> AsyncIterator[dict[str, Any]]:
                async def gen() -> AsyncIterator[dict[str, Any]]:
                    for page in pages:
                        yield page

                return gen()

        return Paginator()


def _source(fake: Any, **kw: Any) -> AthenaGold:
    @asynccontextmanager
    async def client() -> AsyncIterator[Any]:
        yield fake

    return AthenaGold(client, database="keystone_nexus_gold", poll_s=0.0, **kw)


async def test_a_query_runs_in_the_gold_database_and_returns_typed_rows() -> None:
    fake = FakeAthena([_page(["varchar", "bigint", "double"], [["SP", "5", "420.5"]], header=True)])
    source = _source(fake, workgroup="analytics", output_location="s3://results/dashboard/")
    assert await source.query("select 1") == [("SP", 5, 420.5)]
    assert fake.started == [
        {
            "QueryString": "select 1",
            "QueryExecutionContext": {"Database": "keystone_nexus_gold", "Catalog": "AwsDataCatalog"},
            "WorkGroup": "analytics",
            "ResultConfiguration": {"OutputLocation": "s3://results/dashboard/"},
        }
    ]
    assert fake.polls == 3
    assert "keystone_nexus_gold" in source.describe


async def test_views_over_athena_shape_the_same_documents() -> None:
    fake = FakeAthena(
        [_page(["integer", "bigint"], [["5", "2"], ["1", "1"]], header=True)],
    )
    views = GoldViews(_source(fake), "keystone_nexus_gold")
    doc = await views.reviews()
    assert doc["total"] == 3 and doc["scores"][4] == {"score": 5, "orders": 2}
    assert "from keystone_nexus_gold.fct_orders" in fake.started[0]["QueryString"]


async def test_a_missing_table_means_gold_is_not_built() -> None:
    fake = FakeAthena(
        [], final="FAILED", reason="TABLE_NOT_FOUND: line 1:20: Table 'x.fct_orders' does not exist"
    )
    with pytest.raises(GoldNotBuiltError):
        await _source(fake).query("select 1")


async def test_another_failure_names_the_reason() -> None:
    fake = FakeAthena([], final="FAILED", reason="SYNTAX_ERROR: mismatched input")
    with pytest.raises(GoldError, match="SYNTAX_ERROR") as raised:
        await _source(fake).query("select 1")
    assert not isinstance(raised.value, GoldNotBuiltError | GoldUnavailableError)


async def test_a_query_over_its_time_is_stopped_and_retriable() -> None:
    fake = FakeAthena([])
    fake.never_ends = True
    with pytest.raises(GoldUnavailableError) as raised:
        await _source(fake, timeout_s=0.0).query("select 1")
    assert raised.value.retriable
    assert fake.stopped == ["q1"]


async def test_throttling_is_retriable() -> None:
    class Throttled(FakeAthena):
        async def start_query_execution(self, **request: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartQueryExecution"
            )

    with pytest.raises(GoldUnavailableError):
        await _source(Throttled([])).query("select 1")


async def test_access_denied_is_not_retriable() -> None:
    class Denied(FakeAthena):
        async def start_query_execution(self, **request: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "StartQueryExecution"
            )

    with pytest.raises(GoldError, match="AccessDeniedException") as raised:
        await _source(Denied([])).query("select 1")
    assert not raised.value.retriable


def test_loopback_by_default() -> None:
    args = build_parser().parse_args(["dashboard", "--duckdb", "w.duckdb"])
    assert args.listen is None  # then the setting, loopback
    assert Settings().dashboard.listen == "127.0.0.1:8788"
    assert DashboardOptions(status_url="http://127.0.0.1:8787").host == "127.0.0.1"


def test_gold_and_athena_sources_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dashboard", "--duckdb", "w.duckdb", "--athena-database", "g"])


@pytest.mark.parametrize("schema", ["gold; drop table x", "gold.x", "1gold", ""])
def test_the_gold_schema_must_be_a_plain_identifier(schema: str) -> None:
    with pytest.raises(GoldError):
        Queries(schema)
