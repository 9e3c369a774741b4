"""Transactional producers against the real broker: the sink reads committed, so an
aborted transaction never lands in bronze, the checkpoint passes the transaction
markers, and a partition read to its last stable offset counts as caught up (an open
transaction is no lag that `--until-idle` would wait for)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from keystone_nexus.dev import stack as devstack
from keystone_nexus.kafka.admin import topic_counts
from keystone_nexus.kafka.range_reader import KafkaRangeReader
from tests.integration.sinkkit import (
    PARTITIONS,
    TOPICS,
    Broker,
    Coord,
    SinkProcess,
    checkpoint_offsets,
    get,
    lake_coords,
    produce_transactions,
    sink_env,
    wait_for,
)

pytestmark = pytest.mark.integration

PER_TRANSACTION = 30


def _run_until_idle(
    broker: Broker, tmp_path: Path, lake: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`nexus run --until-idle` over the payments topic; its totals and the batches it cut.
    Batches are cut only when a partition is caught up (counts and age are out of reach)."""
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_KAFKA__TOPICS=TOPICS[0],
        NEXUS_SINK__MAX_BATCH_RECORDS="100000",
        NEXUS_SINK__MAX_LATENCY_S="3600",
        NEXUS_SINK__IDLE_FLUSH_S="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "run", "--until-idle", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    events = [orjson.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    stopped = [e for e in events if e["event"] == "bronze sink stopped"]
    assert stopped, done.stderr[-4000:]
    return stopped[-1]["totals"], [e for e in events if e["event"] == "batch committed"]


def _after_last(coords: set[Coord]) -> dict[tuple[str, int], int]:
    """Per partition, the offset after the commit marker that follows the last record."""
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in coords:
        last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
    return {key: offset + 2 for key, offset in last.items()}


def test_aborted_transactions_stay_out_of_bronze(broker: Broker, tmp_path: Path) -> None:
    written, producer = produce_transactions(broker.bootstrap, ["commit", "abort", "commit"], PER_TRANSACTION)
    del producer
    assert len(written.committed) == 2 * PER_TRANSACTION and len(written.aborted) == PER_TRANSACTION
    lake = tmp_path / "lake"

    totals, batches = _run_until_idle(broker, tmp_path, lake)

    bronze = lake_coords(lake, "bronze")
    assert not bronze.keys() & written.aborted, "records of an aborted transaction in bronze"
    assert bronze == Counter(dict.fromkeys(written.committed, 1))
    assert not lake_coords(lake, "dlq")
    assert totals["records_valid"] == len(written.committed)
    # Each partition's checkpoint (and Kafka commit) is past the last transaction's commit
    # marker: nothing is left to read, so the lag is zero, not one marker per partition.
    ends = _after_last(written.committed | written.aborted)
    assert len(ends) == PARTITIONS
    assert checkpoint_offsets(lake) == ends
    assert {b["cut"] for b in batches} == {"caught-up"}


def test_an_open_transaction_is_not_lag_to_wait_for(broker: Broker, tmp_path: Path) -> None:
    written, producer = produce_transactions(
        broker.bootstrap, ["commit", "abort", "commit", "open"], PER_TRANSACTION
    )
    try:
        lake = tmp_path / "lake"
        totals, batches = _run_until_idle(broker, tmp_path, lake)
    finally:
        producer.abort_transaction(30)
    bronze = lake_coords(lake, "bronze")
    assert set(bronze) == written.committed
    assert not bronze.keys() & (written.aborted | written.open)
    # Read to the last stable offset (just before the open transaction) and written out.
    assert checkpoint_offsets(lake) == _after_last(written.committed | written.aborted)
    assert {b["cut"] for b in batches} == {"caught-up"}
    assert totals["records_valid"] == len(written.committed)


def test_a_transaction_aborted_after_the_last_batch_is_no_lag(broker: Broker, tmp_path: Path) -> None:
    """An aborted transaction that follows the last committed batch leaves nothing to cut:
    the checkpoint still follows the log past it, so the partition shows no lag."""
    lake = tmp_path / "lake"
    port = devstack.free_port()
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_KAFKA__TOPICS=TOPICS[0],
        NEXUS_SINK__IDLE_FLUSH_S="0.5",
        NEXUS_HEALTH__PORT=str(port),
    )
    sink = SinkProcess(env, tmp_path)
    try:
        committed, _ = produce_transactions(broker.bootstrap, ["commit"], PER_TRANSACTION)
        landed = _after_last(committed.committed)
        assert wait_for(lambda: checkpoint_offsets(lake) == landed, 60), (
            checkpoint_offsets(lake),
            sink.log(),
        )
        aborted, _ = produce_transactions(broker.bootstrap, ["abort"], PER_TRANSACTION)
        past = _after_last(aborted.aborted)
        assert wait_for(lambda: checkpoint_offsets(lake) == past, 30), (checkpoint_offsets(lake), sink.log())
        rows = orjson.loads(get(f"http://127.0.0.1:{port}/status")[1])["partitions"]
        assert [(r["committed"], r["offset_lag"]) for r in rows] == [
            (past[(TOPICS[0], r["partition"])], 0) for r in rows
        ]
    finally:
        assert sink.stop() == 0, sink.log()
    assert set(lake_coords(lake, "bronze")) == committed.committed


def test_the_tools_read_what_the_sink_reads(broker: Broker) -> None:
    """`nexus topics counts` and reprocess's range reader read committed by default too."""
    written, producer = produce_transactions(broker.bootstrap, ["commit", "abort", "commit"], PER_TRANSACTION)
    del producer
    topic = TOPICS[0]

    async def read() -> tuple[int, int, set[Coord]]:
        committed = await topic_counts(broker.bootstrap, [topic], idle_s=5)
        everything = await topic_counts(
            broker.bootstrap, [topic], idle_s=5, isolation_level="read_uncommitted"
        )
        end = max(o for _t, p, o in written.committed if p == 0)
        ranged = await KafkaRangeReader(broker.bootstrap, idle_timeout_s=20)(topic, 0, 0, end)
        return committed[topic], everything[topic], {(topic, 0, r.offset) for r in ranged}

    committed, everything, ranged = asyncio.run(read())
    assert committed == len(written.committed)
    assert everything == len(written.committed | written.aborted)
    assert ranged == {c for c in written.committed if c[1] == 0}
