"""The schema registry: one interface, a local file implementation (the embedded
default) and the AWS Glue Schema Registry, with a TTL cache in front of either."""

from __future__ import annotations

from keystone_nexus.registry.base import SchemaRegistry, SchemaVersion
from keystone_nexus.registry.cache import CachedRegistry
from keystone_nexus.registry.sync import SyncResult, sync_schemas

__all__ = ["CachedRegistry", "SchemaRegistry", "SchemaVersion", "SyncResult", "sync_schemas"]
