"""The state database as the sink and the commands use it: connections from the settings,
the schema migrated, the sink's ledger writer."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from keystone_nexus.config import Settings
from keystone_nexus.errors import ConfigError, StateError, StateUnavailableError
from keystone_nexus.ops.metrics import SinkMetrics
from keystone_nexus.sink.checkpoint import BatchSummary
from keystone_nexus.state.db import connect, describe
from keystone_nexus.state.ledger import BatchRow, LedgerWriter, RunRow, record_run
from keystone_nexus.state.migrate import migrate

log = logging.getLogger("keystone_nexus.state")

__all__ = ["Recorded", "batch_row", "connector", "open_ledger", "record", "recording", "where"]

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


def _dsn(settings: Settings) -> str:
    if settings.state.dsn is None:
        raise ConfigError("state.dsn is not set (NEXUS_STATE__DSN=postgresql://user:password@host:port/db)")
    return settings.state.dsn


def where(settings: Settings) -> str:
    """The state database for logs and /readyz, without its password."""
    return describe(_dsn(settings))


def connector(settings: Settings) -> Connect:
    """Opens a connection to the state database each call (a fresh IAM token each time)."""
    dsn = _dsn(settings)
    region = settings.aws.region if settings.state.iam_auth else None
    return lambda: connect(dsn, iam_region=region)


async def migrated(settings: Settings) -> list[int]:
    """Migrate the schema `nexus` to this release's version; the versions applied now."""
    conn = await connector(settings)()
    try:
        applied = await migrate(conn)
    except psycopg.OperationalError as exc:  # the server went away meanwhile: worth waiting for
        raise StateUnavailableError(
            f"PostgreSQL at {where(settings)} failed during migration: {exc}"
        ) from None
    finally:
        await conn.close()
    if applied:
        log.info(
            "state schema migrated", extra={"versions": [m.version for m in applied], "at": where(settings)}
        )
    return [m.version for m in applied]


def batch_row(topic: str, partition: int, summary: BatchSummary, owner: str, source: str) -> BatchRow:
    return BatchRow(
        topic=topic,
        partition=partition,
        first_offset=summary.start,
        last_offset=summary.end,
        valid_records=summary.valid,
        dead_records=summary.dead,
        skipped_records=summary.skipped,
        objects=summary.objects,
        owner=owner,
        committed_at=summary.committed_at,
        source=source,
    )


async def open_ledger(settings: Settings, metrics: SinkMetrics) -> LedgerWriter:
    """The schema migrated and the sink's ledger writer (start-up waits for this)."""
    await migrated(settings)
    return LedgerWriter(
        connector(settings),
        on_written=metrics.ledger_rows.inc,
        on_failure=metrics.ledger_failures.inc,
        on_dropped=metrics.ledger_dropped.inc,
    )


@dataclass
class Recorded:
    """A run of a repair or transform command, as `recording` keeps it: the body fills
    `summary` and `steps`."""

    kind: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.time)
    summary: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def row(self, status: str) -> RunRow:
        return RunRow(self.kind, self.run_id, self.started_at, time.time(), status, self.summary, self.steps)


async def record(settings: Settings, row: RunRow) -> None:
    """Record a run in nexus.runs, when state.dsn is set. The work is done by then: a
    database that cannot take the row is said on stderr, and the command's outcome stands."""
    if settings.state.dsn is None:
        return
    try:
        conn = await connector(settings)()
        try:
            await migrate(conn)  # a tool may run before any sink did
            await record_run(conn, row)
        finally:
            await conn.close()
    except (StateError, psycopg.Error) as exc:
        print(f"nexus: the {row.kind} run was not recorded in the ledger: {exc}", file=sys.stderr)


@contextlib.asynccontextmanager
async def recording(settings: Settings, kind: str) -> AsyncIterator[Recorded]:
    """Record the run of the body in nexus.runs: `succeeded`, or `failed` with its error."""
    run = Recorded(kind)
    try:
        yield run
    except BaseException as exc:
        run.summary.setdefault("error", str(exc) or type(exc).__name__)
        await record(settings, run.row("failed"))
        raise
    await record(settings, run.row("succeeded"))
