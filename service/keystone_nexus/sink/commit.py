"""The commit protocol for one partition: how a batch becomes durable exactly once.

The order, enforced here and nowhere else:

1. encode    decode, validate and encode the batch (pure, in the executor); this
             fixes the names of the objects the batch will write
2. announce  write the checkpoint with `pending = (start, end, objects)`: the cut is
             now fixed; any later owner repeats exactly this cut (conditional write:
             fences zombies). A repeat announces the union of its objects and those
             already announced
3. data      put the bronze and dead-letter objects; their names derive from the
             Kafka coordinates, so a repeat overwrites instead of duplicating; then
             register the table and its new hour partitions in the Glue Data Catalog
4. clean     a repeat deletes the announced objects it did not rewrite
5. advance   write the checkpoint with `next_offset = end + 1`, no pending cut
             (conditional on step 2's etag)
6. kafka     the caller commits `end + 1` to the consumer group (a hint for lag
             and tooling; the lake checkpoint is the source of truth on restart)

A crash between any two steps leaves either no announcement (the batch is cut again
from `next_offset`, by whatever rule), or an announcement whose objects are rewritten
by the next owner with the same names, or removed by it where its attempt names other
objects (a record valid for one attempt and dead-lettered by another moves an object's
first offset: a new schema version, a transient registry answer, a changed setting).
A paused owner that wakes after losing the partition fails its next conditional write
and stops; anything it wrote in between has the same name and records as what the new
owner writes, or is announced and removed by it. docs/exactly-once.md gives the whole
argument.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from functools import partial

from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.registry.base import SchemaRegistry
from keystone_nexus.sink import checkpoint
from keystone_nexus.sink.batcher import Record, RecordColumns
from keystone_nexus.sink.checkpoint import BatchSummary, PendingCut, Versioned
from keystone_nexus.sink.continuity import check_start
from keystone_nexus.sink.dead_letter import DeadLetterSink
from keystone_nexus.sink.decode import resolve_versions
from keystone_nexus.sink.encode import Compression, EncodedBatch, Placement, Writer, encode_batch
from keystone_nexus.sink.glue_catalog import NoCatalog, TableCatalog

CRASH_POINTS = ("after_announce", "after_data", "after_checkpoint", "after_kafka_commit")


class CrashInjector:
    """Test aid: kill the process (as kill -9 would) at the n-th pass of a named step.

    Configured by the sink's `crash_at` setting, e.g. "after_data:3"; off by default.
    """

    def __init__(self, spec: str | None, kill: Callable[[], None] | None = None) -> None:
        self.point, self.remaining = None, 0
        if spec:
            point, _, count = spec.partition(":")
            if point not in CRASH_POINTS:
                raise ValueError(f"crash point {point!r} is not one of {CRASH_POINTS}")
            self.point, self.remaining = point, int(count or 1)
        self._kill = kill or (lambda: os._exit(137))

    def reached(self, point: str) -> None:
        if point == self.point:
            self.remaining -= 1
            if self.remaining <= 0:
                self._kill()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    start: int
    end: int
    valid: int
    invalid: int
    skipped: int
    files: int
    bytes_written: int
    seconds: float

    @property
    def next_offset(self) -> int:
        return self.end + 1


@dataclass(frozen=True, slots=True)
class CommitOptions:
    compression: Compression = "snappy"
    writer: Writer = "pyarrow"
    tombstones: str = "dlq"
    put_concurrency: int = 4
    time_fields: Mapping[str, str] = field(default_factory=dict)  # topic -> payload field for dt/hr
    max_payload_hours: int | None = 24  # payload hours one batch may write (late events: arrival hour)
    max_timestamp_ahead_s: float | None = 86_400.0  # Kafka timestamps further ahead: dead letters

    def placement(self, topic: str) -> Placement:
        """How the batches of `topic` are placed in dt/hr partitions."""
        ahead = self.max_timestamp_ahead_s
        return Placement(
            time_field=self.time_fields.get(topic),
            max_hours=self.max_payload_hours,
            max_ahead_ms=None if ahead is None else int(ahead * 1000),
        )


class PartitionCommitter:
    """Owns the checkpoint of one partition while this instance is assigned it."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        registry: SchemaRegistry,
        entity: EntitySpec,
        topic: str,
        partition: int,
        state: Versioned,
        executor: Executor,
        options: CommitOptions,
        owner: str,
        crash: CrashInjector | None = None,
        catalog: TableCatalog | None = None,
        dead_letter: DeadLetterSink | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.entity = entity
        self.topic = topic
        self.partition = partition
        self.state = state
        self.executor = executor
        self.options = options
        self.owner = owner
        self.crash = crash or CrashInjector(None)
        self.catalog: TableCatalog = catalog or NoCatalog()
        self.dead_letter = dead_letter
        self.rules = entity_definition(entity)

    @property
    def next_offset(self) -> int:
        return self.state.checkpoint.next_offset

    @property
    def pending(self) -> PendingCut | None:
        return self.state.checkpoint.pending

    async def commit(
        self, records: Sequence[Record], end: int | None = None, *, read_from: int | None = None
    ) -> BatchOutcome:
        """Make `records` durable; `end` is the batch's last offset (default: the last record's).
        `read_from`: where the records were read from (see continuity.py; default: the first)."""
        check_start(self.next_offset, records, read_from)  # before anything is announced
        started = time.monotonic()
        start = self.next_offset
        end = records[-1].offset if end is None else end

        columns = RecordColumns.of(records)
        resolved = await resolve_versions(self.entity, columns.values, self.registry)
        encoded: EncodedBatch = await asyncio.get_running_loop().run_in_executor(
            self.executor,
            partial(
                encode_batch,
                entity=self.entity.name,
                topic=self.topic,
                partition=self.partition,
                records=columns,
                resolved=resolved,
                tombstones=self.options.tombstones,
                ingested_at_us=time.time_ns() // 1000,
                compression=self.options.compression,
                writer=self.options.writer,
                rules=self.rules,
                placement=self.options.placement(self.topic),
            ),
        )
        objects = [*encoded.bronze, *([encoded.dlq] if encoded.dlq else [])]
        keys = [obj.key for obj in objects]
        announced = await self._announce(PendingCut(start, end, tuple(keys)))
        self.crash.reached("after_announce")

        limit = asyncio.Semaphore(self.options.put_concurrency)

        async def put(key: str, data: bytes) -> None:
            async with limit:
                await self.store.put(key, data)

        async with asyncio.TaskGroup() as group:
            for obj in objects:
                group.create_task(put(obj.key, obj.data))
        if self.dead_letter is not None and encoded.dead:
            await self.dead_letter.send(
                self.topic, self.partition, [(records[i], reason) for i, reason in encoded.dead]
            )
        if encoded.hours and (newest := encoded.newest_version) is not None:
            table_definition = newest.definition if newest.data_format == "JSON" else self.rules
            await self.catalog.ensure_table(self.entity.name, table_definition)
            await self.catalog.ensure_partitions(self.entity.name, encoded.hours)
        written = set(keys)
        for key in [
            k for k in announced.objects if k not in written
        ]:  # an earlier attempt's objects that this one does not rewrite
            await self.store.delete(key)
        self.crash.reached("after_data")

        summary = BatchSummary(
            start=start,
            end=end,
            valid=encoded.valid,
            dead=encoded.invalid,
            skipped=encoded.skipped,
            objects=tuple((o.key, o.rows, len(o.data)) for o in objects),
            committed_at=time.time(),
        )
        advanced = replace(
            self.state.checkpoint, next_offset=end + 1, pending=None, owner=self.owner, last_batch=summary
        )
        self.state = await checkpoint.save(self.store, self.state, advanced)
        self.crash.reached("after_checkpoint")
        return BatchOutcome(
            start=start,
            end=end,
            valid=encoded.valid,
            invalid=encoded.invalid,
            skipped=encoded.skipped,
            files=len(objects),
            bytes_written=sum(len(o.data) for o in objects),
            seconds=time.monotonic() - started,
        )

    async def _announce(self, cut: PendingCut) -> PendingCut:
        """Fix the cut in the checkpoint, with every object name an attempt at it may
        write: this attempt's, and those of earlier attempts (a repeat after a crash)."""
        pending = self.state.checkpoint.pending
        if pending is not None and cut.same_cut(pending):
            if set(cut.objects) <= set(pending.objects):
                return pending
            cut = replace(cut, objects=tuple(dict.fromkeys([*pending.objects, *cut.objects])))
        announced = replace(self.state.checkpoint, pending=cut, owner=self.owner)
        self.state = await checkpoint.save(self.store, self.state, announced)
        return cut
