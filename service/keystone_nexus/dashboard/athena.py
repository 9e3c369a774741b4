"""Gold in production: the dashboard's queries run by Athena over the gold Glue database.

start_query_execution, then get_query_execution until the query ends (polled, bounded by a
timeout), then get_query_results page by page; values come back as text and are typed here
from the result's column metadata (pure: `typed_rows`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from keystone_nexus.aws.errors import error_code
from keystone_nexus.dashboard.gold import Row
from keystone_nexus.errors import GoldError, GoldNotBuiltError, GoldUnavailableError

_INTEGER = {"tinyint", "smallint", "integer", "int", "bigint"}
_REAL = {"double", "float", "real", "decimal"}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException"}
_MISSING = ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND", "does not exist")


def _typed(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    base = kind.split("(")[0].lower()
    if base in _INTEGER:
        return int(text)
    if base in _REAL:
        return float(text)
    if base == "boolean":
        return text.lower() == "true"
    return text  # varchar, date (ISO text), timestamp


def typed_rows(pages: Sequence[Mapping[str, Any]]) -> list[Row]:
    """The rows of get_query_results pages, typed by column; the header row is dropped."""
    rows: list[Row] = []
    kinds: list[str] = []
    for index, page in enumerate(pages):
        result = page["ResultSet"]
        if not kinds:
            kinds = [c["Type"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
        data = result["Rows"][1:] if index == 0 else result["Rows"]  # the first row names the columns
        for row in data:
            cells = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append(tuple(_typed(v, k) for v, k in zip(cells, kinds, strict=True)))
    return rows


class AthenaGold:
    """Queries over the gold database (`<ATHENA_SCHEMA>_gold`, e.g. keystone_nexus_gold).

    `client` makes an aioboto3 Athena client context (keystone_nexus.aws.clients.client)."""

    def __init__(
        self,
        client: Callable[[], AbstractAsyncContextManager[Any]],
        *,
        database: str,
        workgroup: str = "primary",
        output_location: str | None = None,
        catalog: str = "AwsDataCatalog",
        timeout_s: float = 30.0,
        poll_s: float = 0.5,
    ) -> None:
        self._client = client
        self.database, self.workgroup, self.catalog = database, workgroup, catalog
        self.output_location = output_location
        self.timeout_s, self.poll_s = timeout_s, poll_s
        self.describe = f"athena:{catalog}.{database} (workgroup {workgroup})"

    async def query(self, sql: str) -> list[Row]:
        try:
            async with self._client() as athena:
                query_id = await self._start(athena, sql)
                await self._wait(athena, query_id)
                pages = []
                async for page in athena.get_paginator("get_query_results").paginate(
                    QueryExecutionId=query_id
                ):
                    pages.append(page)
        except GoldError:
            raise
        except Exception as exc:
            code = error_code(exc)
            if code in _THROTTLED or not code:
                raise GoldUnavailableError(
                    f"Athena did not answer: {code or type(exc).__name__}: {exc}"
                ) from exc
            raise GoldError(f"Athena refused the query ({code}): {exc}") from exc
        return typed_rows(pages)

    async def _start(self, athena: Any, sql: str) -> str:
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        started = await athena.start_query_execution(**request)
        return str(started["QueryExecutionId"])

    async def _wait(self, athena: Any, query_id: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            execution = (await athena.get_query_execution(QueryExecutionId=query_id))["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = str(status.get("StateChangeReason", state))
                if any(marker in reason for marker in _MISSING):
                    raise GoldNotBuiltError(f"gold tables missing in Athena ({self.database}): {reason}")
                raise GoldError(f"Athena query {query_id} {state.lower()}: {reason}")
            if time.monotonic() >= deadline:
                await athena.stop_query_execution(QueryExecutionId=query_id)
                raise GoldUnavailableError(
                    f"Athena query {query_id} still {state} after {self.timeout_s:.0f} s"
                )
            await asyncio.sleep(self.poll_s)

    def close(self) -> None:
        return None
