"""The Glue Schema Registry adapter against moto's server over real HTTP."""

import uuid

import orjson
import pytest

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.avro_schema import avro_definition, avro_schema_name
from keystone_nexus.errors import RegistryUnavailableError, SchemaNotFoundError
from keystone_nexus.registry import CachedRegistry, sync_schemas
from keystone_nexus.registry.glue import GlueRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_env(stack, monkeypatch: pytest.MonkeyPatch):
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)


async def test_sync_registers_then_is_idempotent(aws_env) -> None:
    registry = await GlueRegistry.open(aws_env, f"reg-{uuid.uuid4().hex[:8]}")
    try:
        await registry.ensure_registry()
        await registry.ensure_registry()
        first = await sync_schemas(registry)
        expected = {
            **{name: (text, "JSON") for name, text in schemas.all_definitions().items()},
            **{avro_schema_name(e): (avro_definition(e), "AVRO") for e in contracts.entities()},
        }
        assert sorted(first.created) == sorted(expected)
        second = await sync_schemas(registry)
        assert second.created == []
        assert second.version_ids() == first.version_ids()
        for name, version in first.versions.items():
            fetched = await registry.get_version(version.version_id)
            assert (fetched.definition, fetched.data_format) == expected[name]
            assert fetched.version_number == 1
    finally:
        await registry.close()


async def test_new_version_and_lookups(aws_env) -> None:
    registry = await GlueRegistry.open(aws_env, f"reg-{uuid.uuid4().hex[:8]}")
    cached = CachedRegistry(registry)
    try:
        await registry.ensure_registry()
        await sync_schemas(cached)
        name = "olist.orders.v1"
        v1 = await cached.latest(name)
        doc = orjson.loads(v1.definition)
        doc["properties"]["order_channel"] = {"type": ["string", "null"]}
        v2, created = await cached.register(name, schemas.definition(doc))
        assert created and v2.version_number == 2
        assert (await cached.latest(name)).version_id == v2.version_id
        misses = cached.misses
        assert (await cached.get_version(v1.version_id)).definition == v1.definition
        assert (await cached.get_version(v1.version_id)).version_number == 1
        assert cached.misses <= misses + 1 and cached.hits >= 1
        with pytest.raises(SchemaNotFoundError):
            await registry.get_version(uuid.uuid4())
        with pytest.raises(SchemaNotFoundError):
            await registry.latest("olist.nothing.v1")
    finally:
        await cached.close()


async def test_unreachable_endpoint_is_retriable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    options = AwsOptions(endpoint_url="http://127.0.0.1:9", connect_timeout_s=0.5, read_timeout_s=0.5)
    registry = await GlueRegistry.open(options, "nowhere", attempts=2)
    try:
        with pytest.raises(RegistryUnavailableError) as info:
            await registry.latest("olist.orders.v1")
        assert info.value.retriable
    finally:
        await registry.close()
