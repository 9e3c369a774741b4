"""What the commands share: the settings with their secrets resolved, the schemas synced
(and said so on stderr), the lake and the repair tools opened and closed in order, JSON out.

Tables are not shared: each command's table has its own columns, and an f-string per row
says them more plainly than a general printer would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from keystone_nexus.config import Settings, load_settings

if TYPE_CHECKING:
    from keystone_nexus.lake.store import ObjectStore
    from keystone_nexus.registry.cache import CachedRegistry
    from keystone_nexus.sink.glue_catalog import TableCatalog


def resolved_settings(args: argparse.Namespace) -> Settings:
    """The settings, with every `aws-secretsmanager:` reference resolved (for every
    command, not only the daemon: replay, the twin, reprocess, the dashboard...)."""
    from keystone_nexus.aws.secrets import references, resolve_secrets
    from keystone_nexus.wiring import aws_options

    loaded = load_settings(args.config)
    if not references(loaded):
        return loaded
    return asyncio.run(resolve_secrets(loaded, aws_options(loaded.aws)))


async def sync_schemas(settings: Settings) -> dict[str, str]:
    """Register the current schemas (idempotent), one line per schema on stderr;
    {schema name: version id}."""
    from keystone_nexus.registry import sync_schemas as sync
    from keystone_nexus.wiring import open_registry

    registry = await open_registry(settings)
    try:
        result = await sync(registry)
    finally:
        await registry.close()
    for name, version in result.versions.items():
        state = "registered" if name in result.created else "unchanged"
        print(
            f"{name:<34} v{version.version_number:<3} {version.version_id}  {state}",
            file=sys.stderr,
        )
    return {name: str(v.version_id) for name, v in result.versions.items()}


@contextlib.asynccontextmanager
async def opened_lake(settings: Settings) -> AsyncIterator[ObjectStore]:
    """The configured lake, closed on the way out."""
    from keystone_nexus.wiring import open_lake

    store = await open_lake(settings)
    try:
        yield store
    finally:
        await store.close()


@dataclass(frozen=True)
class RepairTools:
    """What re-drive and reprocess write with: the registry, the lake and the table catalog."""

    registry: CachedRegistry
    store: ObjectStore
    catalog: TableCatalog


@contextlib.asynccontextmanager
async def opened_repair_tools(settings: Settings) -> AsyncIterator[RepairTools]:
    """Registry, lake and catalog, opened in that order and closed in the reverse one
    (also when a later one fails to open)."""
    from keystone_nexus.wiring import open_catalog, open_lake, open_registry

    async with contextlib.AsyncExitStack() as stack:
        registry = await open_registry(settings)
        stack.push_async_callback(registry.close)
        store = await open_lake(settings)
        stack.push_async_callback(store.close)
        catalog = await open_catalog(settings)
        stack.push_async_callback(catalog.close)
        yield RepairTools(registry, store, catalog)


def count_topics(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Records per topic, read as the sink reads them (its security and isolation level)."""
    from keystone_nexus.kafka.admin import topic_counts
    from keystone_nexus.wiring import kafka_security

    security = kafka_security(settings.kafka, aws_region=settings.aws.region)
    return asyncio.run(
        topic_counts(
            settings.kafka.bootstrap_servers,
            topics,
            security=security,
            isolation_level=settings.kafka.isolation_level,
        )
    )


def check_kafka(settings: Settings) -> None:
    """Kafka answers, as the sink would reach it (its security settings); else a one-line
    KafkaUnavailableError, before a command sends anything."""
    from keystone_nexus.kafka.admin import reachable
    from keystone_nexus.wiring import kafka_security

    security = kafka_security(settings.kafka, aws_region=settings.aws.region)
    asyncio.run(reachable(settings.kafka.bootstrap_servers, security=security))


def print_json(doc: object) -> None:
    """`doc` as indented JSON on stdout (times and other values as their text)."""
    sys.stdout.write(orjson.dumps(doc, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


def cell(value: object) -> str:
    """A table cell: integers with thousands separators, times to the second, lists by length."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return f"{len(value):,}"
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat(timespec="seconds")) if callable(isoformat) else str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Rows under their headers, columns as wide as their widest cell; numbers right-aligned."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    print(line(list(headers)))
    for row_cells in cells:
        print(line(row_cells))
