"""`nexus reprocess`: rebuild the lake objects of an offset range from Kafka, without duplicates.

For a parser or schema fix: the records of one partition's offset range are read again
from Kafka, decoded, validated and encoded as the sink does, and written over the objects
that held them.

**Which objects.** The sink cuts batches at arbitrary offsets and names each object after
its first offset, so a range may start or end inside an object. The range is widened until
no bronze, dead-letter or re-driven object of the partition straddles its edges (the
*closure*, `plan_reprocess`): every object is either wholly inside or wholly outside. Inside,
the objects are grouped into *units*: runs of offsets that no object crosses (objects whose
offset spans overlap share a unit). Each unit is encoded on its own, exactly as a batch of
the sink would be, so when nothing about the records' validity changed the new objects have
the very names of the old ones and each put replaces an object with its rebuilt self.

**Refused.** A range reaching the partition's checkpoint `next_offset` (the live sink owns
everything from there on), a partition without a checkpoint, and a range Kafka no longer
holds all of (an offset found in the lake but not read back from Kafka: retention).

**Exactly once, also when interrupted.** The plan is announced first, in
`_reprocess/<topic>/<partition>.json` (a conditional create: one reprocess per partition at
a time), with the old objects it replaces. Then the new objects' names are added to it
(CAS), the objects are put, and the old objects the new ones did not replace are deleted,
together with re-driven objects and re-drive markers of the old dead-letter objects (the
rebuilt dead letters start afresh); last the plan is deleted. A run that finds a plan
finishes it first: it re-reads the plan's range, rebuilds, and deletes every object of the
plan (old, or new in an earlier attempt) that the rebuild did not write. So after a run
completes, each offset of the range is in exactly one object. While objects are being
replaced under *new* names (validity changed), a reader may briefly see a record in both
the old and the new object; a completed run removes the overlap.

**Beside the live sink.** Safe while the sink runs: the sink writes only at and above its
checkpoint's `next_offset`, and reprocess only below it, under the names the sink gave
those objects (or names derived the same way). Do not run `nexus dlq redrive` on the same
partition at the same time: the re-drive markers are deleted here without a condition, so a
re-drive racing this could land a record that this also rebuilds.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import pyarrow.parquet as pq

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.errors import NexusError, PreconditionFailedError
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.registry.base import SchemaRegistry
from keystone_nexus.repair.redrive import REDRIVE_PREFIX, marker_key
from keystone_nexus.sink import checkpoint
from keystone_nexus.sink.batcher import Record, RecordColumns
from keystone_nexus.sink.commit import CommitOptions
from keystone_nexus.sink.decode import resolve_versions
from keystone_nexus.sink.encode import OutputObject, encode_batch
from keystone_nexus.sink.glue_catalog import NoCatalog, TableCatalog
from keystone_nexus.sink.naming import BRONZE, DLQ

__all__ = [
    "LakeObject",
    "Plan",
    "RecordSource",
    "ReprocessError",
    "ReprocessReport",
    "plan_key",
    "plan_reprocess",
    "reprocess",
]

REPROCESS = "_reprocess"


class ReprocessError(NexusError):
    """The range cannot be reprocessed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class LakeObject:
    """An object of the partition and the offsets it holds."""

    key: str
    first: int
    last: int
    kind: str  # "bronze", "dlq" or "redrive"


@dataclass(frozen=True, slots=True)
class Plan:
    topic: str
    partition: int
    start: int  # the widened range, inclusive
    end: int
    units: list[tuple[int, int]]  # (first, last) offsets, each encoded as one batch
    old: list[str]  # every object wholly inside [start, end]: replaced or deleted
    written: list[str] = field(default_factory=list)  # names new objects were written under

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "topic": self.topic,
                "partition": self.partition,
                "start": self.start,
                "end": self.end,
                "units": self.units,
                "old": self.old,
                "written": self.written,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Plan:
        doc: dict[str, Any] = orjson.loads(data)
        return cls(
            topic=str(doc["topic"]),
            partition=int(doc["partition"]),
            start=int(doc["start"]),
            end=int(doc["end"]),
            units=[(int(a), int(b)) for a, b in doc["units"]],
            old=[str(k) for k in doc["old"]],
            written=[str(k) for k in doc["written"]],
        )


def plan_key(topic: str, partition: int) -> str:
    return f"{REPROCESS}/{topic}/{partition}.json"


def plan_reprocess(
    topic: str, partition: int, start: int, end: int, objects: Sequence[LakeObject], next_offset: int
) -> Plan:
    """Widen [start, end] to whole objects and cut it into units (pure).

    Raises ReprocessError for an empty range or one reaching `next_offset`.
    """
    if start < 0 or end < start:
        raise ReprocessError(f"offset range {start}..{end} is empty: --from-offset must be <= --to-offset")
    if end >= next_offset:
        raise ReprocessError(
            f"{topic}[{partition}]: offsets from {next_offset} on are not committed to the lake yet and "
            f"belong to the running sink; reprocess at most up to {next_offset - 1}"
        )
    lo, hi = start, end
    inside: list[LakeObject] = []
    changed = True
    while changed:
        changed = False
        inside = [o for o in objects if o.first <= hi and o.last >= lo]
        for obj in inside:
            if obj.first < lo or obj.last > hi:
                lo, hi = min(lo, obj.first), max(hi, obj.last)
                changed = True
    if hi >= next_offset:
        raise ReprocessError(
            f"{topic}[{partition}]: objects overlapping the range reach offset {hi}, beyond the "
            f"checkpoint ({next_offset}); wait for the sink to commit them"
        )
    starts = [lo]
    reach = lo - 1
    for obj in sorted(inside, key=lambda o: o.first):
        if obj.first > reach and obj.first != starts[-1]:
            starts.append(obj.first)
        reach = max(reach, obj.last)
    ends = [s - 1 for s in starts[1:]] + [hi]
    units = list(zip(starts, ends, strict=True))
    return Plan(topic, partition, lo, hi, units, sorted(o.key for o in inside))


# ------------------------------------------------------------------------------ the lake side


def _parse(key: str) -> tuple[str, str, int, int] | None:
    """(kind, topic, partition, first offset) of a lake object key, or None."""
    layer = key.split("/", 1)[0]
    name = key.rsplit("/", 1)[-1].removesuffix(".parquet")
    kind = layer
    if name.startswith(REDRIVE_PREFIX):
        kind, name = "redrive", name.removeprefix(REDRIVE_PREFIX)
    try:
        topic, partition, offset = name.rsplit("+", 2)
        return kind, topic, int(partition), int(offset)
    except ValueError:
        return None


async def _offsets(store: ObjectStore, key: str) -> list[int]:
    found = await store.get(key)
    if found is None:
        return []
    column = pq.read_table(io.BytesIO(found.data), columns=["_offset"]).column("_offset")
    return [int(o) for o in column.to_pylist()]


async def partition_objects(
    store: ObjectStore, spec: EntitySpec, topic: str, partition: int, below: int
) -> tuple[list[LakeObject], dict[str, list[int]]]:
    """Every object of the partition whose first offset is below `below`, with its offsets."""
    objects: list[LakeObject] = []
    offsets: dict[str, list[int]] = {}
    for prefix in (f"{BRONZE}/{spec.name}/", f"{DLQ}/{spec.name}/"):
        for key in await store.list(prefix):
            parsed = _parse(key) if key.endswith(".parquet") else None
            if parsed is None or parsed[1:3] != (topic, partition) or parsed[3] >= below:
                continue
            held = await _offsets(store, key)
            if held:
                objects.append(LakeObject(key, min(held), max(held), parsed[0]))
                offsets[key] = held
    return objects, offsets


# ------------------------------------------------------------------------------ running


class RecordSource(Protocol):
    async def __call__(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        """The partition's records with offsets in [start, end], in offset order."""
        ...


AfterPut = Callable[[str], Awaitable[None]]


async def _nothing(_key: str) -> None:
    return None


@dataclass(slots=True)
class ReprocessReport:
    start: int = 0
    end: int = 0
    records: int = 0
    valid: int = 0
    invalid: int = 0
    written: int = 0
    deleted: int = 0
    resumed: bool = False  # an interrupted run's plan was finished first
    plan: Plan | None = None  # the plan of the requested range


async def _save_plan(store: ObjectStore, plan: Plan, etag: str | None) -> str:
    key = plan_key(plan.topic, plan.partition)
    try:
        if etag is None:
            return await store.put(key, plan.to_bytes(), if_none_match=True)
        return await store.put(key, plan.to_bytes(), if_match=etag)
    except PreconditionFailedError as exc:
        raise ReprocessError(
            f"{key} changed underneath: another reprocess of {plan.topic}[{plan.partition}] is running; "
            "let it finish (or run this again once it stopped: it finishes what it finds)"
        ) from exc


@dataclass(frozen=True, slots=True)
class _Run:
    store: ObjectStore
    registry: SchemaRegistry
    source: RecordSource
    options: CommitOptions
    catalog: TableCatalog
    after_put: AfterPut


@dataclass(slots=True)
class _Rebuilt:
    objects: list[OutputObject] = field(default_factory=list)
    valid: int = 0
    invalid: int = 0
    hours: set[tuple[str, str]] = field(default_factory=set)
    table_definition: str | None = None  # the newest JSON Schema used, for the catalog's table
    newest_number: int = 0


async def _rebuild(run: _Run, spec: EntitySpec, plan: Plan, records: list[Record]) -> _Rebuilt:
    """Encode each unit as the sink would encode a batch of it."""
    out = _Rebuilt()
    rules = entity_definition(spec)
    for first, last in plan.units:
        unit = [r for r in records if first <= r.offset <= last]
        if not unit:
            continue
        columns = RecordColumns.of(unit)
        resolved = await resolve_versions(spec, columns.values, run.registry)
        encoded = encode_batch(
            entity=spec.name,
            topic=plan.topic,
            partition=plan.partition,
            records=columns,
            resolved=resolved,
            ingested_at_us=time.time_ns() // 1000,
            tombstones=run.options.tombstones,
            compression=run.options.compression,
            writer=run.options.writer,
            rules=rules,
            placement=run.options.placement(plan.topic),
        )
        out.objects += [*encoded.bronze, *([encoded.dlq] if encoded.dlq else [])]
        out.valid += encoded.valid
        out.invalid += encoded.invalid
        out.hours.update(encoded.hours)
        newest = encoded.newest_version
        if newest is not None and newest.version_number > out.newest_number:
            out.newest_number = newest.version_number
            out.table_definition = newest.definition if newest.data_format == "JSON" else rules
    return out


async def _execute(run: _Run, spec: EntitySpec, plan: Plan, etag: str, report: ReprocessReport) -> None:
    records = await run.source(plan.topic, plan.partition, plan.start, plan.end)
    read = {r.offset for r in records}
    old_offsets: set[int] = set()
    for key in plan.old:
        old_offsets.update(await _offsets(run.store, key))
    missing = sorted(old_offsets - read)
    if missing:
        raise ReprocessError(
            f"{plan.topic}[{plan.partition}]: Kafka no longer holds {len(missing)} offsets the lake has "
            f"(first {missing[0]}; retention?): reprocessing would lose them. Nothing was changed by this "
            f"run; delete {plan_key(plan.topic, plan.partition)} to drop the plan"
        )
    rebuilt = await _rebuild(run, spec, plan, records)
    objects = rebuilt.objects
    new_keys = [o.key for o in objects]
    plan = Plan(
        plan.topic,
        plan.partition,
        plan.start,
        plan.end,
        plan.units,
        plan.old,
        sorted(set(plan.written) | set(new_keys)),
    )
    etag = await _save_plan(run.store, plan, etag)
    for obj in objects:
        await run.store.put(obj.key, obj.data)
        await run.after_put(obj.key)
    if rebuilt.hours and rebuilt.table_definition is not None:
        await run.catalog.ensure_table(spec.name, rebuilt.table_definition)
        await run.catalog.ensure_partitions(spec.name, sorted(rebuilt.hours))
    stale = (set(plan.old) | set(plan.written)) - set(new_keys)
    for key in sorted(stale):
        await run.store.delete(key)
    for key in plan.old:
        if key.startswith(f"{DLQ}/"):
            await run.store.delete(marker_key(key))
    await run.store.delete(plan_key(plan.topic, plan.partition))
    report.records += len(records)
    report.valid += rebuilt.valid
    report.invalid += rebuilt.invalid
    report.written += len(objects)
    report.deleted += len(stale)


async def reprocess(
    store: ObjectStore,
    registry: SchemaRegistry,
    source: RecordSource,
    *,
    topic: str,
    partition: int,
    start: int,
    end: int,
    options: CommitOptions | None = None,
    catalog: TableCatalog | None = None,
    after_put: AfterPut | None = None,
    dry_run: bool = False,
) -> ReprocessReport:
    """Rebuild the objects holding offsets [start, end] of topic[partition] (widened to whole
    objects); first finish an interrupted reprocess of the partition, if there is one.

    `options` must be the sink's; `after_put` is called after each object is written (a test
    hook); `dry_run` only plans: the report holds the widened range and the plan, nothing
    is read from Kafka or written.
    """
    spec = contracts.entity_for_topic(topic)
    run = _Run(
        store, registry, source, options or CommitOptions(), catalog or NoCatalog(), after_put or _nothing
    )
    report = ReprocessReport()
    found = await store.get(plan_key(topic, partition))
    if found is not None and not dry_run:
        report.resumed = True
        await _execute(run, spec, Plan.from_bytes(found.data), found.etag, report)
    state = await checkpoint.load(store, topic, partition, start_offset=-1)
    if state.etag is None:
        raise ReprocessError(
            f"{topic}[{partition}] has no checkpoint in the lake: the sink has not committed anything there"
        )
    next_offset = state.checkpoint.next_offset
    objects, _ = await partition_objects(store, spec, topic, partition, next_offset)
    plan = plan_reprocess(topic, partition, start, end, objects, next_offset)
    report.start, report.end, report.plan = plan.start, plan.end, plan
    if dry_run:
        return report
    etag = await _save_plan(store, plan, None)
    await _execute(run, spec, plan, etag, report)
    return report
