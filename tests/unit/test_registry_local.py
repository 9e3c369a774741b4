import uuid
from pathlib import Path

import orjson
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.avro_schema import avro_definition, avro_schema_name
from keystone_nexus.errors import IncompatibleSchemaError, SchemaNotFoundError
from keystone_nexus.registry import CachedRegistry, sync_schemas
from keystone_nexus.registry.compat import backward_problems
from keystone_nexus.registry.local import LocalRegistry

ORDERS = "olist.orders.v1"


def _evolve(definition: str, **changes) -> str:
    doc = orjson.loads(definition)
    for name, prop in changes.get("add", {}).items():
        doc["properties"][name] = prop
    for name in changes.get("require", []):
        doc["required"].append(name)
    for name in changes.get("drop", []):
        del doc["properties"][name]
        doc["required"] = [r for r in doc["required"] if r != name]
    return schemas.definition(doc)


async def test_sync_is_idempotent(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path)
    first = await sync_schemas(registry)
    avro = {avro_schema_name(e): avro_definition(e) for e in contracts.entities()}
    assert sorted(first.created) == sorted({**schemas.all_definitions(), **avro})
    assert {first.versions[name].data_format for name in avro} == {"AVRO"}
    second = await sync_schemas(registry)
    assert second.created == []
    assert first.version_ids() == second.version_ids()
    assert all(v.version_number == 1 for v in second.versions.values())


async def test_ids_are_stable_across_registries(tmp_path: Path) -> None:
    a = await sync_schemas(LocalRegistry(tmp_path / "a"))
    b = await sync_schemas(LocalRegistry(tmp_path / "b"))
    assert a.version_ids() == b.version_ids()


async def test_backward_compatible_version_is_added(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path)
    await sync_schemas(registry)
    v1 = await registry.latest(ORDERS)
    newer = _evolve(v1.definition, add={"order_channel": {"type": ["string", "null"]}})
    v2, created = await registry.register(ORDERS, newer)
    assert created and v2.version_number == 2 and v2.version_id != v1.version_id
    assert (await registry.latest(ORDERS)).version_id == v2.version_id
    assert (await registry.get_version(v1.version_id)).definition == v1.definition


@pytest.mark.parametrize(
    "change",
    [
        {"add": {"channel": {"type": "string"}}, "require": ["channel"]},
        {"drop": ["order_approved_at"]},
    ],
)
async def test_incompatible_version_is_refused(tmp_path: Path, change) -> None:
    registry = LocalRegistry(tmp_path)
    await sync_schemas(registry)
    v1 = await registry.latest(ORDERS)
    with pytest.raises(IncompatibleSchemaError, match="BACKWARD"):
        await registry.register(ORDERS, _evolve(v1.definition, **change))
    assert (await registry.latest(ORDERS)).version_number == 1


def test_compat_rules() -> None:
    old = schemas.all_definitions()[ORDERS]
    doc = orjson.loads(old)
    doc["properties"]["order_status"]["enum"].remove("created")
    assert any("enum" in p for p in backward_problems(old, schemas.definition(doc)))
    assert backward_problems(old, old) == []


async def test_unknown_lookups_raise(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path)
    with pytest.raises(SchemaNotFoundError):
        await registry.get_version(uuid.uuid4())
    with pytest.raises(SchemaNotFoundError):
        await registry.latest("nope")


async def test_cache_serves_hits_and_expires(tmp_path: Path) -> None:
    now = [0.0]
    cached = CachedRegistry(LocalRegistry(tmp_path), ttl_s=10, max_entries=2, clock=lambda: now[0])
    result = await sync_schemas(cached)
    ids = list(result.version_ids().values())
    cached._by_id.clear()
    await cached.get_version(ids[0])
    await cached.get_version(ids[0])
    assert (cached.hits, cached.misses) == (1, 1)
    now[0] = 11.0
    await cached.get_version(ids[0])
    assert cached.misses == 2
    for version_id in ids[:3]:
        await cached.get_version(version_id)
    assert len(cached._by_id) == 2
