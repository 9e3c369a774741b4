"""The sink's state, per process and per partition: plain data the loop (`daemon`) keeps
and the observers (`status`, /status, /readyz) read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from keystone_nexus.sink.batcher import CutRules, PartitionBuffer
from keystone_nexus.sink.commit import BatchOutcome, CommitOptions, PartitionCommitter
from keystone_nexus.sink.out_of_range import OutOfRange


@dataclass(frozen=True, slots=True)
class SinkOptions:
    rules: CutRules
    commit: CommitOptions
    memory_budget_bytes: int = 256 * 1024 * 1024
    fetch_max_records: int = 10_000
    drain_timeout_s: float = 30.0
    setup_timeout_s: float = 30.0  # bound on each await of a partition's setup
    kafka_commit_timeout_s: float = 10.0  # bound on the consumer-group offset commit
    on_out_of_range: str = "halt"  # or "skip" (out_of_range.py)
    # How long a checkpoint must stay beyond the high-water mark before it counts as out of
    # range: a new leader's mark can lag what was landed for a moment.
    out_of_range_confirm_s: float = 15.0
    read_committed: bool = True  # the consumer's isolation level: lag counts to the LSO


@dataclass
class SinkTotals:
    batches: int = 0
    records_valid: int = 0
    records_dead: int = 0
    records_skipped: int = 0
    files: int = 0
    bytes_written: int = 0
    failures: int = 0
    rebalances: int = 0
    offsets_out_of_range: int = 0


@dataclass
class PartitionState:
    committer: PartitionCommitter
    buffer: PartitionBuffer
    task: asyncio.Task[BatchOutcome] | None = None
    inflight_bytes: int = 0
    inflight_oldest_ms: int | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_flush: float | None = None
    paused: bool = False
    # After a failed batch, until its rewind (checkpoint reload, seek) is done: nothing is
    # buffered or cut, and the partition is paused (docs/exactly-once.md, "rewinds").
    rewinding: bool = False
    log_start: int = 0  # from ListOffsets at assignment
    in_range: bool = False  # the checkpoint was found within the log (out_of_range.py)
    out_of_range: OutOfRange | None = None  # halted (or being skipped) until this is cleared
    beyond_end_since: float | None = None  # when the checkpoint was first seen beyond the mark
    batch_id: str = ""  # of the batch in flight, for the logs
    batch_started: float = 0.0


@dataclass
class SetupRetry:
    """An assigned partition whose setup failed, and when it is tried again."""

    attempts: int = 0
    retry_at: float = 0.0
    error: str = ""
    task: asyncio.Task[PartitionState] | None = None
