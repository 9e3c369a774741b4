"""The dashboard's business views over gold: the SQL (one text for DuckDB and Athena) and
the shaping of its rows into JSON documents (pure), behind one small interface.

A `GoldSource` answers `query(sql)` with rows of plain Python values; `DuckDBGold` opens
the local warehouse read-only for each query, `keystone_nexus.dashboard.athena.AthenaGold`
asks Athena. `GoldViews` turns the answers into the documents the JSON API serves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import duckdb

from keystone_nexus.errors import GoldError, GoldNotBuiltError, GoldUnavailableError
from keystone_nexus.lake import warehouse as warehouse_db

Row = tuple[Any, ...]
REVIEW_SCORES = (1, 2, 3, 4, 5)
MAX_SELLERS = 100
GRAINS = ("day", "week", "month")  # of GMV over time; a week starts on Monday (ISO 8601)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GoldSource(Protocol):
    """Where gold lives: answers one read-only query with its rows."""

    describe: str  # e.g. "duckdb:/path/warehouse.duckdb" (no secrets)

    async def query(self, sql: str) -> list[Row]: ...

    def close(self) -> None: ...


def _value(v: Any) -> Any:
    """A JSON-friendly value: dates as ISO text, decimals as floats."""
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


class Queries:
    """The SQL of each view over the tables of one gold schema. Only aggregates, group by,
    order by and limit, so DuckDB and Athena (Trino) read the same text."""

    def __init__(self, schema: str) -> None:
        if not _IDENTIFIER.match(schema):
            raise GoldError(f"gold schema {schema!r} is not a plain SQL identifier (letters, digits, _)")
        self.schema = schema

    def _t(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def summary(self) -> str:
        return (
            "select cast(coalesce(sum(orders), 0) as bigint), coalesce(sum(gmv), 0), "
            f"min(purchase_date), max(purchase_date) from {self._t('agg_daily_sales')}"
        )

    def delivered(self) -> str:
        return (
            "select cast(coalesce(sum(delivered_orders), 0) as bigint), "
            "sum(on_time_rate * delivered_orders) / nullif(sum(delivered_orders), 0) "
            f"from {self._t('agg_delivery_performance')}"
        )

    def sales_over_time(self, grain: str) -> str:
        """Orders and GMV per day, week or month: the first day of each period, in order."""
        if grain not in GRAINS:
            raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {grain[:20]!r}")
        period = "purchase_date" if grain == "day" else f"cast(date_trunc('{grain}', purchase_date) as date)"
        return (
            f"select {period} as period, cast(sum(orders) as bigint), sum(gmv) "
            f"from {self._t('agg_daily_sales')} group by 1 order by 1"
        )

    def sales_by_state(self) -> str:
        return (
            "select customer_state, cast(sum(orders) as bigint), sum(gmv) "
            f"from {self._t('agg_daily_sales')} group by customer_state order by 3 desc, 1"
        )

    def delivery_by_state(self) -> str:
        # The late orders of a (state, month) row are delivered_orders * (1 - on_time_rate);
        # their days late are averaged over the late orders, weighted by those counts.
        late = "delivered_orders * (1 - on_time_rate)"
        return (
            "select customer_state, cast(sum(delivered_orders) as bigint), "
            "sum(on_time_rate * delivered_orders) / nullif(sum(delivered_orders), 0), "
            f"sum(case when avg_days_late is not null then avg_days_late * {late} end) "
            f"/ nullif(sum(case when avg_days_late is not null then {late} end), 0) "
            f"from {self._t('agg_delivery_performance')} group by customer_state order by 3 desc, 2 desc, 1"
        )

    def sellers(self, limit: int) -> str:
        return (
            "select seller_id, city, state, revenue, orders, items, avg_review_score, late_shipping_rate "
            f"from {self._t('dim_sellers')} order by revenue desc, orders desc, seller_id limit {int(limit)}"
        )

    def reviews(self) -> str:
        return (
            "select review_score, count(*) "
            f"from {self._t('fct_orders')} where review_score is not null group by review_score"
        )


# The documents (pure: rows in, JSON-ready dicts out).


def summary_doc(totals: Row, delivered: Row) -> dict[str, Any]:
    orders, gmv, first, last = totals
    delivered_orders, on_time = delivered
    return {
        "orders": int(orders),
        "gmv": float(gmv),
        "first_day": _value(first),
        "last_day": _value(last),
        "delivered_orders": int(delivered_orders),
        "on_time_rate": _float(on_time),
    }


def sales_doc(grain: str, by_period: Sequence[Row], by_state: Sequence[Row]) -> dict[str, Any]:
    return {
        "grain": grain,
        "by_period": [{"start": _value(d), "orders": int(n), "gmv": float(g)} for d, n, g in by_period],
        "by_state": [{"state": s, "orders": int(n), "gmv": float(g)} for s, n, g in by_state],
    }


def delivery_doc(rows: Sequence[Row]) -> dict[str, Any]:
    return {
        "by_state": [
            {
                "state": state,
                "delivered_orders": int(n),
                "on_time_rate": _float(rate),
                "avg_days_late": _float(late),
            }
            for state, n, rate, late in rows
        ]
    }


def sellers_doc(rows: Sequence[Row]) -> dict[str, Any]:
    return {
        "sellers": [
            {
                "seller_id": seller_id,
                "city": city,
                "state": state,
                "revenue": float(revenue),
                "orders": int(orders),
                "items": int(items),
                "avg_review_score": _float(review),
                "late_shipping_rate": _float(late),
            }
            for seller_id, city, state, revenue, orders, items, review, late in rows
        ]
    }


def reviews_doc(rows: Sequence[Row]) -> dict[str, Any]:
    """Orders per review score, every score from 1 to 5 present (0 when none)."""
    counts = {int(score): int(n) for score, n in rows}
    return {
        "scores": [{"score": s, "orders": counts.get(s, 0)} for s in REVIEW_SCORES],
        "total": sum(counts.values()),
    }


class GoldViews:
    """The JSON API's documents, each from one or two queries of a source."""

    def __init__(self, source: GoldSource, schema: str) -> None:
        self.source = source
        self.q = Queries(schema)

    async def summary(self) -> dict[str, Any]:
        totals, delivered = await asyncio.gather(
            self.source.query(self.q.summary()), self.source.query(self.q.delivered())
        )
        return summary_doc(totals[0], delivered[0])

    async def sales(self, grain: str = "day") -> dict[str, Any]:
        over_time = self.q.sales_over_time(grain)  # a bad grain is refused before any query
        by_period, by_state = await asyncio.gather(
            self.source.query(over_time), self.source.query(self.q.sales_by_state())
        )
        return sales_doc(grain, by_period, by_state)

    async def delivery(self) -> dict[str, Any]:
        return delivery_doc(await self.source.query(self.q.delivery_by_state()))

    async def sellers(self, limit: int = 10) -> dict[str, Any]:
        if not 1 <= limit <= MAX_SELLERS:
            raise ValueError(f"limit must be between 1 and {MAX_SELLERS}")
        return sellers_doc(await self.source.query(self.q.sellers(limit)))

    async def reviews(self) -> dict[str, Any]:
        return reviews_doc(await self.source.query(self.q.reviews()))


class DuckDBGold:
    """The local warehouse, opened read-only for each query on a small thread pool (a
    transform may rebuild the file between two queries; DuckDB blocks, the loop must not)."""

    def __init__(self, path: Path, *, timeout_s: float = 10.0, workers: int = 2) -> None:
        self.path = path
        self.describe = f"duckdb:{path}"
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gold-duckdb")

    def _run(self, sql: str) -> list[Row]:
        if not self.path.is_file():
            raise GoldNotBuiltError(
                f"no warehouse at {self.path}: build gold with "
                f"`nexus transform --lake DIR --duckdb {self.path}`"
            )
        try:
            with warehouse_db.open_read_only(self.path) as con:
                return con.execute(sql).fetchall()
        except duckdb.CatalogException as exc:
            raise GoldNotBuiltError(
                f"gold tables missing in {self.path} ({str(exc).splitlines()[0]}): run `nexus transform`"
            ) from exc
        except duckdb.IOException as exc:
            raise GoldUnavailableError(f"cannot open {self.path} now: {str(exc).splitlines()[0]}") from exc

    async def query(self, sql: str) -> list[Row]:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool, self._run, sql), self.timeout_s)
        except TimeoutError as exc:
            raise GoldUnavailableError(f"a gold query took over {self.timeout_s:.0f} s") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
