"""The state database against the stack's PostgreSQL: the schema migrated once per
version, and the pipeline ledger (nexus.batches) holding, per partition, exactly what the
lake holds, through kill -9 between a checkpoint and its ledger row, and rebuilt from
the lake."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from keystone_nexus.errors import StateError
from keystone_nexus.state.migrate import migrate, migrations
from tests.integration.sinkkit import (
    Broker,
    SinkProcess,
    checkpoint_offsets,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_caught_up,
)

pytestmark = pytest.mark.integration


def test_migrations_apply_once_in_order_and_refuse_a_newer_schema(state_dsn: str) -> None:
    async def run() -> tuple[list[int], list[int], list[str]]:
        async with await psycopg.AsyncConnection.connect(state_dsn, autocommit=True) as conn:
            first = [m.version for m in await migrate(conn)]
            again = [m.version for m in await migrate(conn)]
            cur = await conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'nexus' ORDER BY 1"
            )
            tables = [r[0] for r in await cur.fetchall()]
            await conn.execute("INSERT INTO nexus.schema_migrations (version, name) VALUES (99, 'future')")
            with pytest.raises(StateError, match="version 99, newer than this release knows"):
                await migrate(conn)
            return first, again, tables

    first, again, tables = asyncio.run(run())
    assert first == [m.version for m in migrations()] == list(range(1, len(migrations()) + 1))
    assert again == []
    assert {"batches", "runs", "checkpoints", "schema_migrations"} <= set(tables)


def _nexus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _ledger(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM nexus.batches ORDER BY topic, partition, first_offset")
        return list(cur.fetchall())


def assert_ledger_matches_lake(dsn: str, lake: Path) -> list[dict[str, Any]]:
    """Per partition: the rows tile the offsets below the checkpoint, without gap or
    overlap, and count exactly the records in bronze plus the dead letters."""
    rows = _ledger(dsn)
    in_lake: Counter[tuple[str, int]] = Counter()
    for topic, partition, _offset in lake_coords(lake, "bronze") + lake_coords(lake, "dlq"):
        in_lake[(topic, partition)] += 1
    counted: Counter[tuple[str, int]] = Counter()
    covered: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row["topic"], row["partition"])
        counted[key] += row["valid_records"] + row["dead_records"]
        assert row["first_offset"] == covered.get(key, 0), ("a gap or an overlap", key, row)
        covered[key] = row["last_offset"] + 1
        assert sum(o["rows"] for o in row["objects"]) == row["valid_records"] + row["dead_records"]
    assert counted == in_lake
    assert covered == checkpoint_offsets(lake)
    return rows


def test_the_ledger_holds_the_lake_through_kill_9_and_is_rebuilt_from_it(
    broker: Broker, state_dsn: str, tmp_path: Path
) -> None:
    produced = produce_known_set(broker.bootstrap, 300)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_STATE__DSN=state_dsn,
    )
    # Killed between a batch's checkpoint and its ledger row, twice.
    for _ in range(2):
        crashed = SinkProcess(env, tmp_path, NEXUS_SINK__CRASH_AT="after_checkpoint:3")
        assert crashed.wait(90) == 137, crashed.log()
    final = SinkProcess(env, tmp_path)
    try:
        assert wait_caught_up(lake, produced.ends, 90, alive=lambda: final.proc.poll() is None), final.log()
    finally:
        assert final.stop() == 0, final.log()
    rows = assert_ledger_matches_lake(state_dsn, lake)
    assert {r["source"] for r in rows} == {"sink", "checkpoint"}, "the crashed batches came from checkpoints"

    listed = _nexus(env, "state", "batches", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    assert len(orjson.loads(listed.stdout)) == len(rows)
    table = _nexus(env, "state", "batches", "--topic", "olist.orders.v1", "--limit", "5")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == [
        "committed",
        "topic",
        "part",
    ]
    assert all("olist.orders.v1" in line for line in table.stdout.splitlines()[1:])

    with psycopg.connect(state_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM nexus.batches WHERE first_offset > 0")  # rows lost
    rebuilt = _nexus(env, "state", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt nexus.batches" in rebuilt.stdout
    after = assert_ledger_matches_lake(state_dsn, lake)
    assert {r["source"] for r in after} == {"rebuild"}


def test_state_commands_without_a_dsn_say_which_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in sink_env("127.0.0.1:1", f"file://{tmp_path}", tmp_path, "g").items()}
    done = _nexus(env, "state", "migrate")
    assert done.returncode == 78  # configuration
    assert done.stderr.strip() == (
        "nexus: state.dsn is not set (NEXUS_STATE__DSN=postgresql://user:password@host:port/db)"
    )
