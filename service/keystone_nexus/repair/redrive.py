"""Dead-letter re-drive: `nexus dlq list` and `nexus dlq redrive`.

A dead letter (a row of a `dlq/` object) is re-driven when it passes the entity's
*current* schema, e.g. after a schema fix was registered: its payload is validated again
and, when valid, lands in bronze beside the sink's objects, exactly once.

The unit of work is one dead-letter object, and its state lives in a marker beside it:

    dlq/<entity>/dt=/hr=/<topic>+<partition>+<first>.parquet       (written by the sink)
    _redriven/<entity>/dt=/hr=/<topic>+<partition>+<first>.json     (written here)
    bronze/<entity>/dt=/hr=/redrive+<topic>+<partition>+<first re-driven offset>.parquet

The marker holds *rounds*; a round is the set of offsets re-driven together, the schema
versions they were validated against (by framing), and the bronze objects they went to.
The order for one round, the same shape as the sink's commit protocol:

1. announce  CAS the marker with the round as `pending` (If-None-Match for a new marker,
             If-Match the etag read otherwise): the round's records and versions are fixed;
2. data      put the round's bronze objects (names from the records' Kafka coordinates);
3. done      CAS the marker with the round `done`.

A crash after 1 leaves a pending round; the next re-drive repeats exactly that round (the
same records, validated against the same recorded versions: the same rows under the same
names) before looking for anything new. A record belongs to at most one round, so the
first offsets naming two rounds' objects differ and no object is written twice. A second
re-drive with the same schemas finds no record outside the done rounds that passes: it adds
nothing. `dlq list` subtracts every re-driven offset, so a re-driven record is counted
once, in bronze. Only dead letters below the partition's checkpoint are considered: a cut
the sink has not finished may still be rewritten by it.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.errors import NexusError, PreconditionFailedError
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.registry.base import SchemaRegistry, SchemaVersion
from keystone_nexus.sink import checkpoint
from keystone_nexus.sink.batcher import RecordColumns
from keystone_nexus.sink.commit import CommitOptions
from keystone_nexus.sink.decode import Resolved, resolve_versions
from keystone_nexus.sink.encode import EncodedBatch, OutputObject, encode_batch
from keystone_nexus.sink.glue_catalog import NoCatalog, TableCatalog
from keystone_nexus.sink.naming import DLQ

__all__ = [
    "REDRIVEN",
    "REDRIVE_PREFIX",
    "DeadLetterCount",
    "RedriveError",
    "RedriveReport",
    "list_dead_letters",
    "marker_key",
    "redrive_dead_letters",
    "redrive_name",
]

REDRIVEN = "_redriven"
REDRIVE_PREFIX = "redrive+"
_COLUMNS = [
    "_topic",
    "_partition",
    "_offset",
    "_kafka_timestamp",
    "_schema_version_id",
    "key",
    "raw",
    "reason",
]


class RedriveError(NexusError):
    """A re-drive cannot go on; the message says what to do."""


def marker_key(dlq_key: str) -> str:
    """`_redriven/...json` for `dlq/...parquet`: where the object's re-drive rounds are kept."""
    return f"{REDRIVEN}/{dlq_key.removeprefix(DLQ + '/').removesuffix('.parquet')}.json"


def redrive_name(bronze_key: str) -> str:
    """The sink's bronze key with `redrive+` before the object name, so re-driven objects
    never share a name with the sink's and say where they came from."""
    folder, _, name = bronze_key.rpartition("/")
    return f"{folder}/{REDRIVE_PREFIX}{name}"


def _entity_of(key: str) -> str:
    return key.split("/", 2)[1]


@dataclass(frozen=True, slots=True)
class Round:
    state: str  # "pending" or "done"
    offsets: list[int]
    framings: dict[str, str]  # framing bytes (hex) -> schema version id the records were validated against
    rules_version_id: str  # the JSON Schema version AVRO records are checked against
    objects: list[str]

    def to_doc(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "offsets": self.offsets,
            "framings": self.framings,
            "rules_version_id": self.rules_version_id,
            "objects": self.objects,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Round:
        return cls(
            state=str(doc["state"]),
            offsets=[int(o) for o in doc["offsets"]],
            framings={str(k): str(v) for k, v in doc["framings"].items()},
            rules_version_id=str(doc["rules_version_id"]),
            objects=[str(k) for k in doc["objects"]],
        )


@dataclass(slots=True)
class Marker:
    dlq_key: str
    rounds: list[Round] = field(default_factory=list)
    etag: str | None = None

    def redriven(self) -> set[int]:
        return {o for r in self.rounds for o in r.offsets}

    def to_bytes(self) -> bytes:
        return orjson.dumps({"dlq_key": self.dlq_key, "rounds": [r.to_doc() for r in self.rounds]})


async def _marker(store: ObjectStore, dlq_key: str) -> Marker:
    found = await store.get(marker_key(dlq_key))
    if found is None:
        return Marker(dlq_key)
    doc = orjson.loads(found.data)
    return Marker(dlq_key, [Round.from_doc(r) for r in doc["rounds"]], found.etag)


async def redriven_offsets(store: ObjectStore, dlq_key: str) -> set[int]:
    """Offsets of the dead letters in `dlq_key` that a re-drive has landed in bronze."""
    return (await _marker(store, dlq_key)).redriven()


async def _save(store: ObjectStore, marker: Marker) -> None:
    key = marker_key(marker.dlq_key)
    try:
        if marker.etag is None:
            marker.etag = await store.put(key, marker.to_bytes(), if_none_match=True)
        else:
            marker.etag = await store.put(key, marker.to_bytes(), if_match=marker.etag)
    except PreconditionFailedError as exc:
        raise RedriveError(
            f"{key} changed while this re-drive ran: another `nexus dlq redrive` or `nexus reprocess` "
            "is working on the same dead letters; let it finish, then run this again"
        ) from exc


async def _read_table(store: ObjectStore, key: str) -> pa.Table | None:
    found = await store.get(key)
    if found is None:
        return None
    return pq.read_table(io.BytesIO(found.data), columns=_COLUMNS)


async def _dlq_keys(store: ObjectStore, entity: str | None) -> list[str]:
    prefix = f"{DLQ}/{entity}/" if entity else f"{DLQ}/"
    return [k for k in await store.list(prefix) if k.endswith(".parquet")]


# ------------------------------------------------------------------------------ list


@dataclass(frozen=True, slots=True)
class DeadLetterCount:
    entity: str
    schema_version_id: str  # "-" when the record named none (no header, or a broken one)
    reason: str
    dead: int
    redriven: int

    @property
    def outstanding(self) -> int:
        return self.dead - self.redriven


def _matches(reason: str, like: str | None) -> bool:
    return like is None or like.lower() in reason.lower()


async def list_dead_letters(
    store: ObjectStore, *, entity: str | None = None, reason_like: str | None = None
) -> list[DeadLetterCount]:
    """Dead letters by (entity, schema version, reason): how many, how many re-driven.
    Sorted by outstanding count, largest first."""
    dead: Counter[tuple[str, str, str]] = Counter()
    redriven: Counter[tuple[str, str, str]] = Counter()
    for key in await _dlq_keys(store, entity):
        table = await _read_table(store, key)
        if table is None:
            continue
        done = (await _marker(store, key)).redriven()
        name = _entity_of(key)
        rows = zip(
            table.column("_offset").to_pylist(),
            table.column("_schema_version_id").to_pylist(),
            table.column("reason").to_pylist(),
            strict=True,
        )
        for offset, version, reason in rows:
            if not _matches(reason, reason_like):
                continue
            group = (name, version or "-", reason)
            dead[group] += 1
            if offset in done:
                redriven[group] += 1
    counts = [DeadLetterCount(e, v, r, n, redriven[(e, v, r)]) for (e, v, r), n in dead.items()]
    return sorted(counts, key=lambda c: (-c.outstanding, -c.dead, c.entity, c.reason))


# ------------------------------------------------------------------------------ re-drive


@dataclass(slots=True)
class RedriveReport:
    objects_seen: int = 0
    candidates: int = 0  # dead letters looked at (outstanding, matching the filters)
    redriven: Counter[str] = field(default_factory=Counter)  # per entity, landed in bronze now
    resumed: int = 0  # pending rounds of an earlier, interrupted re-drive finished now
    files: int = 0

    @property
    def total(self) -> int:
        return sum(self.redriven.values())


AfterPut = Callable[[str], Awaitable[None]]


async def _nothing(_key: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Context:
    store: ObjectStore
    registry: SchemaRegistry
    catalog: TableCatalog
    options: CommitOptions
    after_put: AfterPut


def _columns(table: pa.Table) -> RecordColumns:
    stamps = pc.cast(table.column("_kafka_timestamp"), pa.int64()).to_pylist()
    return RecordColumns(
        offsets=table.column("_offset").to_pylist(),
        timestamps=stamps,
        keys=table.column("key").to_pylist(),
        values=table.column("raw").to_pylist(),
    )


def _encode(
    ctx: _Context, spec: EntitySpec, table: pa.Table, resolved: Resolved, rules: str
) -> tuple[EncodedBatch, RecordColumns]:
    columns = _columns(table)
    topic, partition = str(table.column("_topic")[0]), int(table.column("_partition")[0].as_py())
    encoded = encode_batch(
        entity=spec.name,
        topic=topic,
        partition=partition,
        records=columns,
        resolved=resolved,
        ingested_at_us=time.time_ns() // 1000,
        tombstones="dlq",
        compression=ctx.options.compression,
        writer=ctx.options.writer,
        rules=rules,
        placement=ctx.options.placement(topic),
    )
    return encoded, columns


async def _land(
    ctx: _Context, spec: EntitySpec, objects: Sequence[OutputObject], encoded: EncodedBatch
) -> None:
    for obj in objects:
        await ctx.store.put(obj.key, obj.data)
        await ctx.after_put(obj.key)
    if encoded.hours and encoded.newest_version is not None:
        await ctx.catalog.ensure_table(spec.name, encoded.newest_version.definition)
        await ctx.catalog.ensure_partitions(spec.name, encoded.hours)


def _renamed(encoded: EncodedBatch) -> list[OutputObject]:
    return [OutputObject(redrive_name(o.key), o.data, o.rows) for o in encoded.bronze]


async def _finish_pending(ctx: _Context, spec: EntitySpec, marker: Marker, table: pa.Table) -> int:
    """Repeat the marker's pending round exactly: same records, same versions, same names."""
    pending = marker.rounds[-1]
    chosen = table.filter(pc.is_in(table.column("_offset"), pa.array(pending.offsets, pa.int64())))
    resolved: Resolved = {}
    for framing, version_id in pending.framings.items():
        resolved[bytes.fromhex(framing)] = await ctx.registry.get_version(UUID(version_id))
    rules = (await ctx.registry.get_version(UUID(pending.rules_version_id))).definition
    encoded, _ = _encode(ctx, spec, chosen, resolved, rules)
    objects = _renamed(encoded)
    if encoded.invalid or sorted(o.key for o in objects) != sorted(pending.objects):
        raise RedriveError(
            f"{marker.dlq_key}: repeating its pending re-drive round gave other results than announced "
            f"({encoded.invalid} records now fail); the dead-letter object or the registry changed underneath"
        )
    await _land(ctx, spec, objects, encoded)
    marker.rounds[-1] = Round(
        "done", pending.offsets, pending.framings, pending.rules_version_id, pending.objects
    )
    await _save(ctx.store, marker)
    return len(pending.offsets)


async def _current_versions(
    ctx: _Context, spec: EntitySpec, values: list[bytes | None]
) -> tuple[Resolved, SchemaVersion]:
    """Every framing mapped to what the record is validated against now: JSON records
    (framed with any JSON version of the entity, or unframed) to the entity's latest
    JSON Schema; AVRO records to their own version (checked against the latest JSON
    Schema as rules); framings the registry cannot resolve keep their reason."""
    current = await ctx.registry.latest(spec.schema_name)
    resolved = await resolve_versions(spec, values, ctx.registry)
    chosen: Resolved = {}
    for framing, version in resolved.items():
        if isinstance(version, str) or version.data_format == "AVRO":
            chosen[framing] = version
        else:
            chosen[framing] = current
    return chosen, current


async def _redrive_object(
    ctx: _Context, key: str, reason_like: str | None, next_offsets: dict[tuple[str, int], int]
) -> tuple[int, int, int, int]:
    """(candidates, re-driven now, resumed, files) for one dead-letter object."""
    table = await _read_table(ctx.store, key)
    if table is None or table.num_rows == 0:
        return 0, 0, 0, 0
    spec = contracts.entity(_entity_of(key))
    topic, partition = str(table.column("_topic")[0]), int(table.column("_partition")[0].as_py())
    if (topic, partition) not in next_offsets:
        state = await checkpoint.load(ctx.store, topic, partition, start_offset=0)
        next_offsets[(topic, partition)] = state.checkpoint.next_offset
    committed = next_offsets[(topic, partition)]
    marker = await _marker(ctx.store, key)
    resumed = 0
    files = 0
    if marker.rounds and marker.rounds[-1].state == "pending":
        resumed = await _finish_pending(ctx, spec, marker, table)
        files += len(marker.rounds[-1].objects)
    done = marker.redriven()
    offsets = table.column("_offset").to_pylist()
    reasons = table.column("reason").to_pylist()
    keep = [
        o not in done and o < committed and _matches(r, reason_like)
        for o, r in zip(offsets, reasons, strict=True)
    ]
    candidates = table.filter(pa.array(keep, pa.bool_()))
    if candidates.num_rows == 0:
        return 0, 0, resumed, files
    values = candidates.column("raw").to_pylist()
    resolved, current = await _current_versions(ctx, spec, values)
    encoded, columns = _encode(ctx, spec, candidates, resolved, current.definition)
    if encoded.valid == 0:
        return candidates.num_rows, 0, resumed, files
    dead = {index for index, _ in encoded.dead}
    passed = [columns.offsets[i] for i in range(len(columns)) if i not in dead]
    used = {f.hex(): str(v.version_id) for f, v in resolved.items() if not isinstance(v, str)}
    objects = _renamed(encoded)
    marker.rounds.append(Round("pending", passed, used, str(current.version_id), [o.key for o in objects]))
    await _save(ctx.store, marker)
    await _land(ctx, spec, objects, encoded)
    last = marker.rounds[-1]
    marker.rounds[-1] = Round("done", last.offsets, last.framings, last.rules_version_id, last.objects)
    await _save(ctx.store, marker)
    return candidates.num_rows, len(passed), resumed, files + len(objects)


async def redrive_dead_letters(
    store: ObjectStore,
    registry: SchemaRegistry,
    *,
    options: CommitOptions | None = None,
    catalog: TableCatalog | None = None,
    entity: str | None = None,
    reason_like: str | None = None,
    after_put: AfterPut | None = None,
) -> RedriveReport:
    """Re-validate the outstanding dead letters against the current schemas and land the
    ones that pass in bronze, exactly once (see the module docstring for the protocol).

    `options` must be the sink's (compression, writer, time fields) so re-driven objects
    look like the sink's; `after_put` is called after each object is written (a test hook).
    """
    if entity is not None:
        contracts.entity(entity)  # an unknown entity fails here, naming the known ones
    ctx = _Context(store, registry, catalog or NoCatalog(), options or CommitOptions(), after_put or _nothing)
    report = RedriveReport()
    next_offsets: dict[tuple[str, int], int] = {}
    for key in await _dlq_keys(store, entity):
        report.objects_seen += 1
        candidates, redriven, resumed, files = await _redrive_object(ctx, key, reason_like, next_offsets)
        report.candidates += candidates
        report.redriven[_entity_of(key)] += redriven + resumed
        report.resumed += resumed
        report.files += files
    return report
