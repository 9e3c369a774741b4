"""A TTL cache in front of any registry, like the AWS serdes' (200 entries, 24 h)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from keystone_nexus.registry.base import Compatibility, DataFormat, SchemaRegistry, SchemaVersion


class CachedRegistry:
    """Caches versions by UUID (immutable, so only the TTL and size evict them) and the
    latest version per schema name (which can change, so the TTL matters)."""

    def __init__(
        self,
        inner: SchemaRegistry,
        *,
        ttl_s: float = 86_400.0,
        max_entries: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._by_id: OrderedDict[UUID, tuple[float, SchemaVersion]] = OrderedDict()
        self._latest: dict[str, tuple[float, SchemaVersion]] = {}
        self.hits = 0
        self.misses = 0

    def _put(self, version: SchemaVersion) -> None:
        self._by_id[version.version_id] = (self._clock(), version)
        self._by_id.move_to_end(version.version_id)
        while len(self._by_id) > self.max_entries:
            self._by_id.popitem(last=False)

    async def get_version(self, version_id: UUID) -> SchemaVersion:
        entry = self._by_id.get(version_id)
        if entry is not None and self._clock() - entry[0] < self.ttl_s:
            self.hits += 1
            self._by_id.move_to_end(version_id)
            return entry[1]
        self.misses += 1
        version = await self.inner.get_version(version_id)
        self._put(version)
        return version

    async def latest(self, schema_name: str) -> SchemaVersion:
        entry = self._latest.get(schema_name)
        if entry is not None and self._clock() - entry[0] < self.ttl_s:
            self.hits += 1
            return entry[1]
        self.misses += 1
        version = await self.inner.latest(schema_name)
        self._latest[schema_name] = (self._clock(), version)
        self._put(version)
        return version

    async def register(
        self,
        schema_name: str,
        definition: str,
        *,
        data_format: DataFormat = "JSON",
        compatibility: Compatibility = "BACKWARD",
    ) -> tuple[SchemaVersion, bool]:
        version, created = await self.inner.register(
            schema_name, definition, data_format=data_format, compatibility=compatibility
        )
        self._put(version)
        self._latest.pop(schema_name, None)
        return version, created

    async def close(self) -> None:
        await self.inner.close()
