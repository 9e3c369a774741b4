"""From validated records to Parquet objects: pure, CPU-bound, run in the executor.

The bronze table of a batch holds the schema's typed columns (the union over the
schema versions in the batch: BACKWARD evolution only adds nullable columns) followed
by the Kafka coordinates that let silver prove uniqueness.
"""

from __future__ import annotations

import io
from collections.abc import Container
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError
from keystone_nexus.contracts.avro_batch import avro_batch
from keystone_nexus.contracts.validate_batch import BatchResult, validate_batch
from keystone_nexus.registry.base import SchemaVersion
from keystone_nexus.sink import naming
from keystone_nexus.sink.batcher import Record, RecordColumns
from keystone_nexus.sink.decode import Resolved, group_records

HOUR_MS = 3_600_000
# The latest time a lake partition can be named by (9999-12-31T23:59:59.999Z).
LAST_PLACEABLE_MS = 253_402_300_799_999
Compression = Literal["snappy", "zstd"]
Writer = Literal["pyarrow", "fastparquet"]

META_FIELDS = [
    pa.field("_topic", pa.string(), nullable=False),
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
    pa.field("_kafka_timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("_schema_version_id", pa.string(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
]
DLQ_SCHEMA = pa.schema(
    [
        *META_FIELDS[:4],
        pa.field("_schema_version_id", pa.string()),
        META_FIELDS[5],
        pa.field("key", pa.binary()),
        pa.field("raw", pa.binary()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class OutputObject:
    key: str
    data: bytes
    rows: int


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    bronze: list[OutputObject]
    dlq: OutputObject | None
    valid: int
    invalid: int
    hours: list[tuple[str, str]]  # the (dt, hr) partitions the bronze objects went to
    dead: list[tuple[int, str]]  # (index in the batch, reason) of every dead-lettered record
    skipped: int = 0  # tombstones skipped by setting
    newest_version: SchemaVersion | None = None  # the newest schema version the batch used


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a batch's rows go: the settings that shape the bronze objects' dt/hr.

    `time_field`: the payload field that decides the hour (default: the Kafka timestamp);
    `max_hours`: hours one batch may write per time source (see `partition_times`);
    `max_ahead_ms`: how far past the batch's ingestion a Kafka timestamp may be before
    its record is dead-lettered as unplaceable (a producer writing microseconds where
    milliseconds belong puts its records in the year ~55,000).
    """

    time_field: str | None = None
    max_hours: int | None = 24
    max_ahead_ms: int | None = 24 * HOUR_MS


def to_parquet(table: pa.Table, compression: Compression = "snappy", writer: Writer = "pyarrow") -> bytes:
    sink = io.BytesIO()
    if writer == "fastparquet":
        _fastparquet_write(table, sink, compression)
    else:
        pq.write_table(table, sink, compression=compression, use_dictionary=True, write_statistics=True)
    return sink.getvalue()


def _fastparquet_write(table: pa.Table, sink: io.BytesIO, compression: Compression) -> None:
    import fastparquet

    frame = table.to_pandas()

    class _Keep(io.BytesIO):
        def close(self) -> None:
            sink.write(self.getvalue())
            super().close()

    fastparquet.write(
        "batch.parquet", frame, compression=compression.upper(), open_with=lambda _p, _m: _Keep()
    )


def _hour_keys(timestamps_ms: pa.Array) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Per row, the index of its (dt, hr) in the returned list."""
    hours = pc.cast(timestamps_ms, pa.int64()).to_numpy(zero_copy_only=False) // HOUR_MS
    unique, inverse = np.unique(hours, return_inverse=True)
    labels = [naming.hour_partition(int(h) * HOUR_MS) for h in unique]
    return inverse, labels


def encode_batch(
    *,
    entity: str,
    topic: str,
    partition: int,
    records: RecordColumns,
    resolved: Resolved,
    ingested_at_us: int,
    tombstones: str = "dlq",
    compression: Compression = "snappy",
    writer: Writer = "pyarrow",
    rules: str | None = None,
    placement: Placement | None = None,
) -> EncodedBatch:
    """Group the records by schema version (`resolved` maps each framing to its version,
    from `decode.resolve_versions`), validate each group and build the batch's bronze and
    dead-letter objects. Takes and returns plain data, so it runs in a worker process.

    `rules` is the entity's current JSON Schema, which AVRO records are checked against;
    `placement` says which time decides a row's hour partition and how many hours a
    batch may write.

    No record can fail the batch: one that cannot be placed, whose schema version has no
    columns, or whose version types a column otherwise than the batch's newest version,
    is dead-lettered with the reason, and the rest of the batch lands.
    """
    placement = placement or Placement()
    ingested_ms = ingested_at_us // 1000
    coordinates = _coordinates(records)
    refused = _unplaceable(coordinates[1], ingested_ms, placement.max_ahead_ms)
    decoded = group_records(records.values, resolved, tombstones=tombstones, refused=refused)
    dead = list(decoded.dead)
    parts: list[tuple[SchemaVersion, np.ndarray, pa.Table]] = []
    for group in sorted(decoded.groups.values(), key=lambda g: g.version.version_number):
        try:
            result = _validate(group.version, group.payloads, rules)
        except UnsupportedSchemaError as exc:
            reason = f"schema version {group.version.version_id} cannot be written as columns: {exc}"
            dead.extend((index, reason) for index in group.indices)
            continue
        for local_index, reason in result.invalid:
            dead.append((group.indices[local_index], reason))
        if result.table.num_rows == 0:
            continue
        rows = np.asarray(group.indices, dtype=np.int64)[result.valid]
        table = _with_meta(result.table, coordinates, rows, topic, partition, str(group.version.version_id))
        parts.append((group.version, rows, table))
    tables = _compatible(parts, dead)
    bronze: list[tuple[str, str, OutputObject]] = []
    valid = 0
    if tables:
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        table = _finish(table, ingested_at_us)
        valid = table.num_rows
        bronze = _split_by_hour(table, entity, topic, partition, compression, writer, placement, ingested_ms)
    dlq = (
        _dead_letters(dead, refused, records, entity, topic, partition, ingested_at_us, compression)
        if dead
        else None
    )
    return EncodedBatch(
        bronze=[obj for _, _, obj in bronze],
        dlq=dlq,
        valid=valid,
        invalid=len(dead),
        hours=[(dt, hr) for dt, hr, _ in bronze],
        dead=sorted(dead),
        skipped=decoded.skipped,
        newest_version=max(
            (g.version for g in decoded.groups.values()), key=attrgetter("version_number"), default=None
        ),
    )


def _unplaceable(timestamps_ms: np.ndarray, ingested_ms: int, max_ahead_ms: int | None) -> dict[int, str]:
    """Records whose Kafka timestamp names no hour the lake should hold, with the reason:
    before 1970 (no timestamp), past the year 9999, or more than `max_ahead_ms` after the
    batch's ingestion (a producer's clock or unit gone wrong)."""
    latest = LAST_PLACEABLE_MS if max_ahead_ms is None else min(LAST_PLACEABLE_MS, ingested_ms + max_ahead_ms)
    bad = np.flatnonzero((timestamps_ms < 0) | (timestamps_ms > latest))
    out = {}
    for index in bad.tolist():
        stamp = int(timestamps_ms[index])
        if stamp < 0:
            out[index] = f"unplaceable: Kafka timestamp {stamp} is before 1970 (the record has none)"
        else:
            ahead_h = (stamp - ingested_ms) / HOUR_MS
            out[index] = (
                f"unplaceable: Kafka timestamp {stamp} ms is {ahead_h:,.0f} hours after ingestion "
                "(more than sink.max_timestamp_ahead_s; microseconds written as milliseconds?)"
            )
    return out


def _compatible(
    parts: list[tuple[SchemaVersion, np.ndarray, pa.Table]], dead: list[tuple[int, str]]
) -> list[pa.Table]:
    """The version tables that concatenate with the batch's newest version, in order; the
    rows of a version that types a shared column differently are dead-lettered (the table
    in the catalog follows the newest version)."""
    if len(parts) < 2:
        return [table for _, _, table in parts]
    newest = parts[-1][2].schema
    kept = []
    for version, rows, table in parts:
        clash = [
            f"{f.name} ({f.type} in version {version.version_number}, {new} in the newest)"
            for f in table.schema
            if f.name in newest.names and not _promotes(f.type, new := newest.field(f.name).type)
        ]
        if clash:
            reason = f"column type changed between schema versions in one batch: {', '.join(clash)}"
            dead.extend((int(index), reason) for index in rows)
        else:
            kept.append(table)
    return kept


def _promotes(old: pa.DataType, new: pa.DataType) -> bool:
    return bool(old == new or pa.types.is_null(old))


def _validate(version: SchemaVersion, payloads: list[bytes], rules: str | None) -> BatchResult:
    if version.data_format == "AVRO":
        return avro_batch(version.definition, payloads, rules=rules)
    return validate_batch(version.definition, payloads)


def _coordinates(records: RecordColumns) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and timestamps of the whole batch as arrays."""
    return np.asarray(records.offsets, dtype=np.int64), np.asarray(records.timestamps, dtype=np.int64)


def _with_meta(
    table: pa.Table,
    coordinates: tuple[np.ndarray, np.ndarray],
    rows: np.ndarray,
    topic: str,
    partition: int,
    version: str,
) -> pa.Table:
    n = len(rows)
    all_offsets, all_stamps = coordinates
    offsets, stamps = all_offsets[rows], all_stamps[rows]
    columns = {
        "_topic": pa.array([topic] * n, pa.string()) if n < 16 else pa.repeat(pa.scalar(topic), n),
        "_partition": pa.array(np.full(n, partition, dtype=np.int32)),
        "_offset": pa.array(offsets),
        "_kafka_timestamp": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
        "_schema_version_id": pa.repeat(pa.scalar(version), n),
    }
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table


def _finish(table: pa.Table, ingested_at_us: int) -> pa.Table:
    table = table.sort_by("_offset")
    ingested = pa.array(np.full(table.num_rows, ingested_at_us, dtype=np.int64), pa.timestamp("us", tz="UTC"))
    payload = [n for n in table.column_names if not n.startswith("_")]
    meta = [f.name for f in META_FIELDS if f.name != "_ingested_at"]
    table = table.select([*payload, *meta]).append_column("_ingested_at", ingested)
    return table.cast(pa.schema([*[table.schema.field(n) for n in payload], *META_FIELDS]))


def partition_times(
    table: pa.Table, time_field: str | None, max_hours: int | None = None, ingested_ms: int | None = None
) -> pa.Array:
    """The time that places each row in its dt/hr partition, in ms: the Kafka timestamp
    (arrival time) by default, or a payload field ("YYYY-MM-DD HH:MM:SS", read as UTC)
    where the topic is configured so; rows whose field is empty fall back to arrival.

    Payload times of late and out-of-order events, and the Kafka timestamps a producer
    sets from event times (a backfill), can spread one batch over thousands of hours,
    one tiny file each. With `max_hours`, a batch keeps its `max_hours` most populated
    payload hours (ties: the later hour); the rows of the other hours go to their
    arrival hour. The arrival hours are capped the same way, their stray rows going to
    the batch's ingestion hour (`ingested_ms`), so a batch writes at most 2 x `max_hours`
    + 1 files. The rows keep their fields; only the object's place changes.
    """
    kafka_ms = pc.cast(table.column("_kafka_timestamp"), pa.int64()).to_numpy(zero_copy_only=False)
    if max_hours is not None and ingested_ms is not None:
        kafka_ms = _top_hours(kafka_ms, max_hours, np.full(len(kafka_ms), ingested_ms, dtype=np.int64))
    if time_field is None or time_field not in table.column_names:
        return pa.array(kafka_ms)
    parsed = pc.strptime(table.column(time_field), format="%Y-%m-%d %H:%M:%S", unit="ms", error_is_null=True)
    payload_ms = pc.coalesce(pc.cast(parsed, pa.int64()), pa.array(kafka_ms)).to_numpy(zero_copy_only=False)
    if max_hours is None:
        return pa.array(payload_ms)
    return pa.array(_top_hours(payload_ms, max_hours, kafka_ms))


def _top_hours(times_ms: np.ndarray, max_hours: int, fallback_ms: np.ndarray) -> np.ndarray:
    """`times_ms` where it falls in one of its `max_hours` most populated hours (ties:
    the later hour), else `fallback_ms`; a function of the values, not of their order."""
    unique, inverse, counts = np.unique(times_ms // HOUR_MS, return_inverse=True, return_counts=True)
    if len(unique) <= max_hours:
        return times_ms
    ranked = np.lexsort((-unique, -counts))  # most rows first, then the later hour
    kept = np.zeros(len(unique), dtype=bool)
    kept[ranked[:max_hours]] = True
    return np.where(kept[inverse], times_ms, fallback_ms)


def _split_by_hour(
    table: pa.Table,
    entity: str,
    topic: str,
    partition: int,
    compression: Compression,
    writer: Writer,
    placement: Placement,
    ingested_ms: int,
) -> list[tuple[str, str, OutputObject]]:
    times = partition_times(table, placement.time_field, placement.max_hours, ingested_ms)
    inverse, labels = _hour_keys(times)
    offsets = table.column("_offset").to_numpy()
    out = []
    for slot, (dt, hr) in enumerate(labels):
        mask = inverse == slot
        part = table.filter(pa.array(mask)) if len(labels) > 1 else table
        first = int(offsets[mask].min())
        key = naming.bronze_key(entity, topic, partition, first, dt, hr)
        out.append((dt, hr, OutputObject(key, to_parquet(part, compression, writer), part.num_rows)))
    return out


def _dead_letters(
    dead: list[tuple[int, str]],
    unplaceable: Container[int],
    records: RecordColumns,
    entity: str,
    topic: str,
    partition: int,
    ingested_at_us: int,
    compression: Compression,
) -> OutputObject:
    """The batch's dead letters as one object, in the hour of its first record whose Kafka
    timestamp `_unplaceable` accepted (the batch's ingestion hour when there is none)."""
    dead.sort()
    chosen = [records.record(i) for i, _ in dead]
    table = pa.table(
        {
            "_topic": pa.array([topic] * len(chosen)),
            "_partition": pa.array([partition] * len(chosen), pa.int32()),
            "_offset": pa.array([r.offset for r in chosen], pa.int64()),
            "_kafka_timestamp": pa.array([r.timestamp for r in chosen], pa.timestamp("ms", tz="UTC")),
            "_schema_version_id": pa.array([_version_of(r) for r in chosen], pa.string()),
            "_ingested_at": pa.array([ingested_at_us] * len(chosen), pa.timestamp("us", tz="UTC")),
            "key": pa.array([r.key for r in chosen], pa.binary()),
            "raw": pa.array([r.value for r in chosen], pa.binary()),
            "reason": pa.array([reason for _, reason in dead], pa.string()),
        },
        schema=DLQ_SCHEMA,
    )
    placed = next((r.timestamp for (i, _), r in zip(dead, chosen, strict=True) if i not in unplaceable), None)
    dt, hr = naming.hour_partition(ingested_at_us // 1000 if placed is None else placed)
    key = naming.dlq_key(entity, topic, partition, chosen[0].offset, dt, hr)
    return OutputObject(key, to_parquet(table, compression), table.num_rows)


def _version_of(record: Record) -> str | None:
    value = record.value or b""
    if not wire.has_header(value):
        return None
    try:
        return str(wire.header_schema_version(value))
    except wire.WireFormatError:
        return None
