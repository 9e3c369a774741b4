"""`nexus schemas sync`: register the current contract schemas, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from keystone_nexus.contracts.avro_schema import avro_definition, avro_schema_name
from keystone_nexus.contracts.entities import entities
from keystone_nexus.contracts.json_schema import all_definitions
from keystone_nexus.registry.base import DataFormat, SchemaRegistry, SchemaVersion


@dataclass(frozen=True, slots=True)
class SyncResult:
    versions: dict[str, SchemaVersion]
    created: list[str]

    def version_ids(self) -> dict[str, UUID]:
        return {name: v.version_id for name, v in self.versions.items()}


async def sync_schemas(registry: SchemaRegistry, *, avro: bool = True) -> SyncResult:
    """Register every entity's JSON Schema (BACKWARD) and, with `avro`, its Avro twin
    under `<name>.avro`; unchanged ones are left as they are."""
    versions: dict[str, SchemaVersion] = {}
    created: list[str] = []
    todo: list[tuple[str, str, DataFormat]] = [(n, d, "JSON") for n, d in all_definitions().items()]
    if avro:
        todo += [(avro_schema_name(e), avro_definition(e), "AVRO") for e in entities()]
    for name, definition, data_format in todo:
        version, is_new = await registry.register(
            name, definition, data_format=data_format, compatibility="BACKWARD"
        )
        versions[name] = version
        if is_new:
            created.append(name)
    return SyncResult(versions=versions, created=created)
