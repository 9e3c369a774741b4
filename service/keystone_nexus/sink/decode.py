"""From Kafka records to (schema version, JSON payload), or a reason to dead-letter.

Rules, so no record crashes the sink:
- a tombstone (null value) is dead-lettered (or skipped and counted, by setting);
- a value with the Glue header names its schema version (a JSON Schema, or an Avro
  schema registered as `<topic>.avro`); without one, the topic's latest JSON Schema applies;
- a broken header, an unknown version or a version of another entity's schema is
  dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from keystone_nexus import wire
from keystone_nexus.contracts import EntitySpec
from keystone_nexus.errors import SchemaNotFoundError
from keystone_nexus.registry.base import SchemaRegistry, SchemaVersion
from keystone_nexus.schemas_avro import avro_schema_name
from keystone_nexus.sink.batcher import Record


@dataclass(slots=True)
class VersionGroup:
    version: SchemaVersion
    indices: list[int] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class DecodedBatch:
    groups: dict[UUID, VersionGroup] = field(default_factory=dict)
    dead: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0


async def decode_batch(
    entity: EntitySpec,
    records: Sequence[Record],
    registry: SchemaRegistry,
    *,
    tombstones: str = "dlq",
) -> DecodedBatch:
    """Group the batch's records by schema version; collect the undecodable ones.

    The hot path: a record is looked up by its raw header bytes (compression byte and
    version UUID), so the header is parsed and the version resolved once per batch.
    """
    out = DecodedBatch()
    by_header: dict[bytes, VersionGroup | str] = {}
    for index, record in enumerate(records):
        value = record.value
        if value is None:
            if tombstones == "skip":
                out.skipped += 1
            else:
                out.dead.append((index, "tombstone: the record has no value"))
            continue
        framed = wire.has_header(value)
        header = value[1 : wire.HEADER_SIZE] if framed else b""
        group = by_header.get(header)
        if group is None:
            group = by_header[header] = await _group_for(entity, value, registry, out)
        if isinstance(group, str):
            out.dead.append((index, group))
            continue
        if not framed:
            payload = value
        elif header[0] == wire.COMPRESSION_NONE:
            payload = value[wire.HEADER_SIZE :]
        else:
            try:
                payload = wire.decode(value).payload
            except wire.WireFormatError as exc:
                out.dead.append((index, f"bad Glue header: {exc}"))
                continue
        group.indices.append(index)
        group.payloads.append(payload)
    return out


async def _group_for(
    entity: EntitySpec, value: bytes, registry: SchemaRegistry, out: DecodedBatch
) -> VersionGroup | str:
    """The version group for records framed like `value`, or why they cannot be read."""
    try:
        version_id = wire.decode(value).schema_version_id
    except wire.WireFormatError as exc:
        return f"bad Glue header: {exc}"
    resolved = await _resolve(entity, version_id, registry)
    if isinstance(resolved, str):
        return resolved
    group = out.groups.get(resolved.version_id)
    if group is None:
        group = out.groups[resolved.version_id] = VersionGroup(resolved)
    return group


async def _resolve(
    entity: EntitySpec, version_id: UUID | None, registry: SchemaRegistry
) -> SchemaVersion | str:
    """The schema version to validate against, or the reason there is none.

    Registry outages raise (retriable) rather than dead-lettering good records.
    """
    try:
        if version_id is None:
            return await registry.latest(entity.schema_name)
        version = await registry.get_version(version_id)
    except SchemaNotFoundError as exc:
        return f"unknown schema: {exc}"
    if version.schema_name not in (entity.schema_name, avro_schema_name(entity)):
        return f"schema version {version_id} belongs to {version.schema_name}, not {entity.schema_name}"
    return version
