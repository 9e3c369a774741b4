"""The pure parts of the state package: ledger rows rebuilt from lake objects, the
ledger writer's bound while PostgreSQL is down, `--since`, the DSN shown without its
password, and the RDS IAM token."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import psycopg
import pytest

from keystone_nexus.cli.state import since
from keystone_nexus.sink.checkpoint import BatchSummary, Checkpoint
from keystone_nexus.state.db import describe, rds_iam_token
from keystone_nexus.state.ledger import BatchRow, LedgerWriter
from keystone_nexus.state.rebuild import LakeObject, rows_of


def _obj(key: str, first: int, last: int, dead: bool = False) -> LakeObject:
    return LakeObject(key, first, last, last - first + 1, 100, dead)


def test_overlapping_objects_are_one_row_and_the_last_batch_is_kept_exactly() -> None:
    objects = [
        _obj("bronze/a/dt=1/hr=00/t+0+0", 0, 9),
        _obj("bronze/a/dt=1/hr=01/t+0+3", 3, 12),  # the same batch, another hour
        _obj("dlq/a/dt=1/hr=00/t+0+5", 5, 5, dead=True),
        _obj("bronze/a/dt=1/hr=00/t+0+13", 13, 19),
        _obj("bronze/a/dt=1/hr=00/t+0+20", 20, 29),  # the checkpoint's last batch
    ]
    last = BatchSummary(20, 30, 10, 0, 1, (("bronze/a/dt=1/hr=00/t+0+20", 10, 100),), 1.5)
    kept = Checkpoint("t", 0, 31, owner="host:1", last_batch=last)
    rows = rows_of(("t", 0), objects, kept, now=9.0)
    assert [(r.first_offset, r.last_offset, r.valid_records, r.dead_records) for r in rows] == [
        (0, 12, 20, 1),
        (13, 19, 7, 0),
        (20, 30, 10, 0),
    ]
    assert rows[-1].owner == "host:1" and rows[-1].committed_at == 1.5 and rows[-1].skipped_records == 1
    assert {r.source for r in rows} == {"rebuild"}


def _row(n: int) -> BatchRow:
    return BatchRow("t", 0, n, n, 1, 0, 0, (), "o", 0.0)


async def test_the_writer_never_blocks_and_bounds_what_waits_while_postgresql_is_down() -> None:
    attempts: list[int] = []
    dropped: list[int] = []

    async def down() -> Any:
        attempts.append(1)
        raise psycopg.OperationalError("connection refused")

    writer = LedgerWriter(down, max_queued=3, retry_s=0.05, on_dropped=dropped.append)
    for n in range(5):
        writer.submit(_row(n))
    assert writer.queued == 3 and sum(dropped) == 2
    await asyncio.sleep(0.2)
    assert len(attempts) >= 2, "tried again while down"
    started = time.monotonic()
    await writer.close(timeout_s=5)
    assert time.monotonic() - started < 2, "close does not wait out a down database"
    assert writer.written == 0 and writer.queued == 3


def test_since_takes_durations_and_iso_times() -> None:
    assert abs(since("2h") - (time.time() - 7200)) < 5
    assert since("2026-01-02T03:04:05+00:00") == 1767323045.0
    with pytest.raises(argparse.ArgumentTypeError, match="neither a duration"):
        since("yesterday")


def test_a_dsn_is_shown_without_its_password() -> None:
    shown = describe("postgresql://nexus:s3cret@db.example:6432/ops")
    assert shown == "nexus@db.example:6432/ops" and "s3cret" not in shown


def test_an_rds_iam_token_is_signed_for_the_dsns_host_port_and_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    token = rds_iam_token("postgresql://sink@db.example:5432/ops", "eu-west-1")
    assert token.startswith("db.example:5432/?Action=connect&DBUser=sink&")
    assert "X-Amz-Signature=" in token and "X-Amz-Expires=900" in token
