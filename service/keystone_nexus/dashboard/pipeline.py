"""The dashboard's pipeline views over the ledger in PostgreSQL (state.dsn): bronze
freshness per topic, the recent batches and the recent runs.

The queries are the state package's (`state.freshness`, `state.ledger`); here they are
run on one connection of the dashboard's (`PostgresLedger`, reopened after a failure,
every call bounded by a timeout) and their rows shaped into the JSON API's documents
(pure functions). A `Ledger` is what the server needs; the tests give it a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import psycopg

from keystone_nexus.contracts.entities import UnknownEntityError, entity_for_topic
from keystone_nexus.errors import StateError, StateNotMigratedError, StateUnavailableError
from keystone_nexus.state.freshness import WINDOW_S, TopicFreshness, read_freshness
from keystone_nexus.state.ledger import read_batches, read_runs

__all__ = [
    "MAX_BATCHES",
    "MAX_RUNS",
    "Ledger",
    "PostgresLedger",
    "batches_doc",
    "freshness_doc",
    "runs_doc",
]

MAX_BATCHES = 200
MAX_RUNS = 100
T = TypeVar("T")


class Ledger(Protocol):
    """The pipeline ledger, read-only."""

    describe: str  # e.g. "postgresql:nexus@db:5432/state" (no secrets)

    async def freshness(self, *, now: float, window_s: float) -> list[TopicFreshness]: ...

    async def batches(self, limit: int) -> list[dict[str, Any]]: ...

    async def runs(self, limit: int) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


class PostgresLedger:
    """The ledger's tables through one connection, opened at the first request and again
    after one failed; requests take turns on it (each is a few index probes)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
        *,
        describe: str,
        timeout_s: float = 10.0,
    ) -> None:
        self._connect = connect
        self.describe = f"postgresql:{describe}"
        self.timeout_s = timeout_s
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def _use(self, read: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await asyncio.wait_for(self._connect(), self.timeout_s)
                return await asyncio.wait_for(read(self._conn), self.timeout_s)
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
                raise StateNotMigratedError(
                    f"the state database ({self.describe}) has no ledger tables: run "
                    f"`nexus state migrate` (the sink does at start): {str(exc).splitlines()[0]}"
                ) from None
            except TimeoutError:
                await self._drop()
                raise StateUnavailableError(
                    f"the state database ({self.describe}) did not answer within {self.timeout_s:.0f} s"
                ) from None
            except psycopg.OperationalError as exc:
                await self._drop()
                raise StateUnavailableError(
                    f"the state database ({self.describe}) failed: {str(exc).strip() or type(exc).__name__}"
                ) from None
            except psycopg.Error as exc:
                await self._drop()
                raise StateError(f"the state database ({self.describe}) refused a read: {exc}") from None

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def freshness(self, *, now: float, window_s: float) -> list[TopicFreshness]:
        return await self._use(lambda conn: read_freshness(conn, now=now, window_s=window_s))

    async def batches(self, limit: int) -> list[dict[str, Any]]:
        return await self._use(lambda conn: read_batches(conn, limit=limit))

    async def runs(self, limit: int) -> list[dict[str, Any]]:
        return await self._use(lambda conn: read_runs(conn, limit=limit))

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


# The documents (pure: rows in, JSON-ready dicts out). Times are seconds since the epoch.


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _entity(topic: str) -> str | None:
    """The bronze table's entity (bronze/<entity>/ in the lake) of a contract topic."""
    try:
        return entity_for_topic(topic).name
    except UnknownEntityError:
        return None


def freshness_doc(
    rows: Sequence[TopicFreshness], *, now: float, window_s: float = WINDOW_S, topics: Sequence[str] = ()
) -> dict[str, Any]:
    """Per topic (those the ledger holds and those expected, `topics`, by name): when it
    last committed, how long ago, and what the last `window_s` seconds committed."""
    found = {r.topic: r for r in rows}
    names = sorted(found.keys() | set(topics))
    listed = []
    for name in names:
        row = found.get(name) or TopicFreshness(name, 0, None, 0, 0, 0)
        listed.append(
            {
                "topic": name,
                "entity": _entity(name),
                "partitions": row.partitions,
                "last_committed_at": row.last_committed_at,
                "seconds_since": row.seconds_since(now),
                "batches": row.batches,
                "records": row.records,
                "dead_letters": row.dead_letters,
            }
        )
    return {"now": now, "window_s": window_s, "topics": listed}


def batches_doc(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Recent batches as read by `state.ledger.read_batches`, newest first; each batch's
    objects counted and their bytes summed."""
    return {
        "batches": [
            {
                "topic": r["topic"],
                "partition": int(r["partition"]),
                "first_offset": int(r["first_offset"]),
                "last_offset": int(r["last_offset"]),
                "valid_records": int(r["valid_records"]),
                "dead_records": int(r["dead_records"]),
                "skipped_records": int(r["skipped_records"]),
                "objects": len(r["objects"]),
                "bytes": sum(int(o.get("bytes", 0)) for o in r["objects"]),
                "owner": r["owner"],
                "committed_at": _epoch(r["committed_at"]),
                "source": r["source"],
            }
            for r in rows
        ]
    }


def runs_doc(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Recent re-drive, reprocess and transform runs as read by `state.ledger.read_runs`,
    newest first; their steps counted, their summaries as the tools recorded them."""
    runs = []
    for r in rows:
        started, finished = _epoch(r["started_at"]), _epoch(r["finished_at"])
        runs.append(
            {
                "kind": r["kind"],
                "run_id": r["run_id"],
                "status": r["status"],
                "started_at": started,
                "finished_at": finished,
                "duration_s": None if finished is None or started is None else finished - started,
                "steps": len(r["steps"] or []),
                "summary": r["summary"] or {},
            }
        )
    return {"runs": runs}
