"""The pipeline ledger: `nexus.batches` and `nexus.runs`.

A batch is recorded after its checkpoint advanced, keyed by (topic, partition,
first_offset): recording it again (the next owner reads the last batch from the
checkpoint at assignment; a rebuild) changes nothing, so nothing is counted twice. A run
is keyed by (kind, run_id) and recorded at its end; recording it again replaces it.

:class:`LedgerWriter` is the sink's side: batches are queued and written in the
background, never holding a partition up; while PostgreSQL is down they wait in a bounded
queue (the oldest dropped and counted past it: `nexus state rebuild` restores them from
the lake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from keystone_nexus.errors import StateError

log = logging.getLogger("keystone_nexus.state")

__all__ = ["BatchRow", "LedgerWriter", "RunRow", "read_batches", "read_runs", "record_batches", "record_run"]


@dataclass(frozen=True, slots=True)
class BatchRow:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    valid_records: int
    dead_records: int
    skipped_records: int
    objects: tuple[tuple[str, int, int], ...]  # (key, rows, bytes)
    owner: str
    committed_at: float  # seconds since the epoch
    source: str = "sink"  # sink | checkpoint | rebuild


@dataclass(frozen=True, slots=True)
class RunRow:
    kind: str  # redrive | reprocess | transform
    run_id: str
    started_at: float
    finished_at: float | None
    status: str  # succeeded | failed
    summary: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


def _ts(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


_INSERT_BATCH = (
    "INSERT INTO nexus.batches (topic, partition, first_offset, last_offset, valid_records,"
    " dead_records, skipped_records, objects, owner, committed_at, source)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)"
    " ON CONFLICT (topic, partition, first_offset) DO NOTHING"
)


def _batch_params(row: BatchRow) -> tuple[Any, ...]:
    objects = [{"key": key, "rows": rows, "bytes": size} for key, rows, size in row.objects]
    return (
        row.topic,
        row.partition,
        row.first_offset,
        row.last_offset,
        row.valid_records,
        row.dead_records,
        row.skipped_records,
        orjson.dumps(objects).decode(),
        row.owner,
        _ts(row.committed_at),
        row.source,
    )


async def record_batches(conn: psycopg.AsyncConnection[Any], rows: Sequence[BatchRow]) -> None:
    """Record `rows` in one transaction; those already recorded are left as they are."""
    if not rows:
        return
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(_INSERT_BATCH, [_batch_params(r) for r in rows])


async def record_run(conn: psycopg.AsyncConnection[Any], run: RunRow) -> None:
    await conn.execute(
        "INSERT INTO nexus.runs (kind, run_id, started_at, finished_at, status, summary, steps)"
        " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)"
        " ON CONFLICT (kind, run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at,"
        " status = EXCLUDED.status, summary = EXCLUDED.summary, steps = EXCLUDED.steps",
        (
            run.kind,
            run.run_id,
            _ts(run.started_at),
            _ts(run.finished_at),
            run.status,
            orjson.dumps(run.summary).decode(),
            orjson.dumps(run.steps).decode(),
        ),
    )


async def read_batches(
    conn: psycopg.AsyncConnection[Any],
    *,
    topic: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Recorded batches, newest first (by commit time, then offsets)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT topic, partition, first_offset, last_offset, valid_records, dead_records,"
            " skipped_records, objects, owner, committed_at, source FROM nexus.batches"
            " WHERE (%(topic)s::text IS NULL OR topic = %(topic)s)"
            " AND (%(since)s::timestamptz IS NULL OR committed_at >= %(since)s)"
            " ORDER BY committed_at DESC, topic, partition, first_offset DESC LIMIT %(limit)s",
            {"topic": topic, "since": _ts(since), "limit": limit},
        )
        return list(await cur.fetchall())


async def read_runs(
    conn: psycopg.AsyncConnection[Any],
    *,
    kind: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Recorded runs, newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT kind, run_id, started_at, finished_at, status, summary, steps FROM nexus.runs"
            " WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)"
            " AND (%(since)s::timestamptz IS NULL OR started_at >= %(since)s)"
            " ORDER BY started_at DESC LIMIT %(limit)s",
            {"kind": kind, "since": _ts(since), "limit": limit},
        )
        return list(await cur.fetchall())


class LedgerWriter:
    """Writes the sink's batches to the ledger in the background (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
        *,
        max_queued: int = 100_000,
        retry_s: float = 2.0,
        on_written: Callable[[int], None] = lambda _n: None,
        on_failure: Callable[[], None] = lambda: None,
        on_dropped: Callable[[int], None] = lambda _n: None,
    ) -> None:
        self._connect = connect
        self._queue: deque[BatchRow] = deque()
        self._max = max_queued
        self._retry_s = retry_s
        self._wake = asyncio.Event()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()  # set by close: a retry wait ends at once
        self.on_written, self.on_failure, self.on_dropped = on_written, on_failure, on_dropped
        self.written = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, row: BatchRow) -> None:
        """Queue `row` (never blocks); past the bound, the oldest queued row is dropped."""
        self._queue.append(row)
        if len(self._queue) > self._max:
            self._queue.popleft()
            self.on_dropped(1)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        failing_since: float | None = None
        while not (self._closing and not self._queue):
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            rows = [self._queue[i] for i in range(min(len(self._queue), 500))]
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                await record_batches(self._conn, rows)
            except (psycopg.Error, StateError, OSError) as exc:
                self.on_failure()
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("ledger write failed; batches wait in memory", extra={"error": repr(exc)})
                await self._drop_connection()
                if self._closing:
                    return  # the rows stay unrecorded: `nexus state rebuild` restores them
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), self._retry_s)
                continue
            for _ in rows:
                self._queue.popleft()
            self.written += len(rows)
            self.on_written(len(rows))
            if failing_since is not None:
                log.info(
                    "ledger writes resumed", extra={"down_s": round(time.monotonic() - failing_since, 1)}
                )
                failing_since = None

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def close(self, timeout_s: float) -> None:
        """Write what is queued (for at most `timeout_s`), then close."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout_s)
        if self.queued:
            log.warning("ledger rows left unrecorded at shutdown", extra={"rows": self.queued})
        await self._drop_connection()
