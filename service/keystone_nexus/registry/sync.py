"""`nexus schemas sync`: register the current contract schemas, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from keystone_nexus.registry.base import SchemaRegistry, SchemaVersion
from keystone_nexus.schemas import all_definitions


@dataclass(frozen=True, slots=True)
class SyncResult:
    versions: dict[str, SchemaVersion]
    created: list[str]

    def version_ids(self) -> dict[str, UUID]:
        return {name: v.version_id for name, v in self.versions.items()}


async def sync_schemas(registry: SchemaRegistry) -> SyncResult:
    """Register every entity's schema (BACKWARD); unchanged ones are left as they are."""
    versions: dict[str, SchemaVersion] = {}
    created: list[str] = []
    for name, definition in all_definitions().items():
        version, is_new = await registry.register(name, definition, compatibility="BACKWARD")
        versions[name] = version
        if is_new:
            created.append(name)
    return SyncResult(versions=versions, created=created)
