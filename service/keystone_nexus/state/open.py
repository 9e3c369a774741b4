"""The state database as the sink and the commands use it: connections from the settings,
the schema migrated, the sink's ledger writer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from keystone_nexus.config import Settings
from keystone_nexus.errors import ConfigError, StateUnavailableError
from keystone_nexus.ops.metrics import SinkMetrics
from keystone_nexus.sink.checkpoint import BatchSummary
from keystone_nexus.state.db import connect, describe
from keystone_nexus.state.ledger import BatchRow, LedgerWriter
from keystone_nexus.state.migrate import migrate

log = logging.getLogger("keystone_nexus.state")

__all__ = ["batch_row", "connector", "open_ledger", "where"]

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
