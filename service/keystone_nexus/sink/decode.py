"""From Kafka records to (schema version, JSON payload), or a reason to dead-letter.

Rules, so no record crashes the sink:
- a tombstone (null value) is dead-lettered (or skipped and counted, by setting);
- a value with the Glue header names its schema version (a JSON Schema, or an Avro
  schema registered as `<topic>.avro`); without one, the topic's latest JSON Schema applies;
- a broken header, an unknown version or a version of another entity's schema is
  dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from uuid import UUID

from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.avro_schema import avro_schema_name
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.errors import SchemaNotFoundError
from keystone_nexus.registry.base import SchemaRegistry, SchemaVersion
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


# What a record's framing resolves to: its schema version, or why it cannot be read.
# Keyed by the header bytes after the version byte (compression byte + version UUID);
# b"" stands for records without the header.
Resolved = dict[bytes, SchemaVersion | str]
_HEAD = itemgetter(slice(0, wire.HEADER_SIZE))


async def resolve_versions(
    entity: EntitySpec, values: Sequence[bytes | None], registry: SchemaRegistry
) -> Resolved:
    """Resolve every distinct framing in the batch through the (cached) registry.

    The only part of decoding that does I/O; the per-record work is `group_records`,
    which needs no registry and so runs in an encoding worker.
    """
    # The distinct first bytes, in C: few for framed records (one per version); as many
    # as records for unframed ones, which all resolve to the topic's latest version.
    prefixes = set(map(_HEAD, filter(None, values)))
    keys = {p[1:] if wire.has_header(p) else b"" for p in prefixes}
    if b"" in values:
        keys.add(b"")
    version = bytes((wire.HEADER_VERSION,))
    resolved: Resolved = {}
    for key in keys:
        if key == b"":
            resolved[key] = await _resolve(entity, None, registry)
            continue
        try:
            # The header alone: its payload is not here (and may be compressed).
            version_id = wire.header_schema_version(version + key)
        except wire.WireFormatError as exc:
            resolved[key] = f"bad Glue header: {exc}"
            continue
        resolved[key] = await _resolve(entity, version_id, registry)
    return resolved


def group_records(
    values: Sequence[bytes | None],
    resolved: Resolved,
    *,
    tombstones: str = "dlq",
    refused: Mapping[int, str] | None = None,
) -> DecodedBatch:
    """Group the batch's records by schema version; collect the undecodable ones, and
    those `refused` names (by index, with the reason) before reading their values.

    The hot path: a record is looked up by its raw header bytes, so each framing is
    parsed and resolved once per batch (by `resolve_versions`).
    """
    out = DecodedBatch()
    by_header: dict[bytes, VersionGroup | str] = {}
    for key, resolution in resolved.items():
        if isinstance(resolution, str):
            by_header[key] = resolution
            continue
        group = out.groups.get(resolution.version_id)
        if group is None:
            group = out.groups[resolution.version_id] = VersionGroup(resolution)
        by_header[key] = group
    for index, value in enumerate(values):
        if refused and index in refused:
            out.dead.append((index, refused[index]))
            continue
        if value is None:
            if tombstones == "skip":
                out.skipped += 1
            else:
                out.dead.append((index, "tombstone: the record has no value"))
            continue
        framed = wire.has_header(value)
        header = value[1 : wire.HEADER_SIZE] if framed else b""
        target = by_header[header]
        if isinstance(target, str):
            out.dead.append((index, target))
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
        target.indices.append(index)
        target.payloads.append(payload)
    return out


async def decode_batch(
    entity: EntitySpec,
    records: Sequence[Record],
    registry: SchemaRegistry,
    *,
    tombstones: str = "dlq",
) -> DecodedBatch:
    """`resolve_versions` then `group_records`, in one call (tests and tools)."""
    values = [r.value for r in records]
    return group_records(values, await resolve_versions(entity, values, registry), tombstones=tombstones)


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
