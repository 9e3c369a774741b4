"""The bronze catalog against moto's Glue Data Catalog over real HTTP."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.errors import CatalogError
from keystone_nexus.sink.glue_catalog import GlueCatalog, partition_input, table_input, table_location

pytestmark = pytest.mark.integration

ORDERS = schemas.all_definitions()["olist.orders.v1"]


@pytest.fixture
def aws_env(stack, monkeypatch: pytest.MonkeyPatch) -> AwsOptions:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)


@pytest.fixture
def database() -> str:
    return f"nexus_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def glue(aws_env: AwsOptions) -> AsyncIterator[Any]:
    """A plain Glue client, to look at what the catalog did."""
    async with client(aws_env, "glue") as glue:
        yield glue


async def open_catalog(options: AwsOptions, database: str, stack: Any) -> GlueCatalog:
    return await GlueCatalog.open(options, database=database, lake_uri=stack.lake_uri, attempts=2)


def hours(n: int, start: datetime = datetime(2018, 1, 1, tzinfo=UTC)) -> list[tuple[str, str]]:
    moments = [start + timedelta(hours=i) for i in range(n)]
    return [(m.strftime("%Y-%m-%d"), m.strftime("%H")) for m in moments]


async def partition_values(glue: Any, database: str, table: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    async for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
        found += [tuple(p["Values"]) for p in page["Partitions"]]
    return found


def evolved(add: dict[str, Any]) -> str:
    doc = orjson.loads(ORDERS)
    doc["properties"].update(add)
    return schemas.definition(doc)


def names(table: dict[str, Any]) -> list[str]:
    return [c["Name"] for c in table["StorageDescriptor"]["Columns"]]


async def test_ensure_table_is_idempotent(aws_env, stack, database, glue) -> None:
    catalog = await open_catalog(aws_env, database, stack)
    try:
        await catalog.ensure_table("orders", ORDERS)
        await catalog.ensure_table("orders", ORDERS)
        assert catalog.calls["create_table"] == 1 and catalog.calls["get_table"] == 1
    finally:
        await catalog.close()
    again = await open_catalog(aws_env, database, stack)  # the database exists now
    try:
        await again.ensure_table("orders", ORDERS)
        assert again.calls["create_table"] == 0 and again.calls["update_table"] == 0
        assert again.calls["create_database"] == 0
    finally:
        await again.close()

    table = (await glue.get_table(DatabaseName=database, Name="bronze_orders"))["Table"]
    wanted = table_input("orders", ORDERS, table_location(stack.lake_uri, "orders"))
    assert table["StorageDescriptor"]["Columns"] == wanted["StorageDescriptor"]["Columns"]
    assert names(table)[-6:] == [
        "_topic",
        "_partition",
        "_offset",
        "_kafka_timestamp",
        "_schema_version_id",
        "_ingested_at",
    ]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}, {"Name": "hr", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == f"{stack.lake_uri}/bronze/orders/"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"


async def test_evolved_schema_adds_columns_and_keeps_old_ones(aws_env, stack, database, glue) -> None:
    catalog = await open_catalog(aws_env, database, stack)
    try:
        await catalog.ensure_table("orders", ORDERS)
        before = names((await glue.get_table(DatabaseName=database, Name="bronze_orders"))["Table"])
        await catalog.ensure_table("orders", evolved({"order_channel": {"type": ["string", "null"]}}))
        assert catalog.calls["update_table"] == 1
        table = (await glue.get_table(DatabaseName=database, Name="bronze_orders"))["Table"]
        channel = next(c for c in table["StorageDescriptor"]["Columns"] if c["Name"] == "order_channel")
        assert channel["Type"] == "string"
        payload = [n for n in before if not n.startswith("_")]
        assert names(table) == [*payload, "order_channel", *before[len(payload) :]]
        await catalog.ensure_partitions("orders", hours(1))  # new partitions carry the new columns
        part = await glue.get_partition(
            DatabaseName=database, TableName="bronze_orders", PartitionValues=list(hours(1)[0])
        )
        assert "order_channel" in names(part["Partition"])
    finally:
        await catalog.close()

    restarted = await open_catalog(aws_env, database, stack)  # a sink still on the older schema
    try:
        await restarted.ensure_table("orders", ORDERS)
        assert restarted.calls["update_table"] == 0
        table = (await glue.get_table(DatabaseName=database, Name="bronze_orders"))["Table"]
        assert "order_channel" in names(table)
    finally:
        await restarted.close()


async def test_partitions_are_registered_once(aws_env, stack, database, glue) -> None:
    catalog = await open_catalog(aws_env, database, stack)
    try:
        await catalog.ensure_table("orders", ORDERS)
        first = hours(3)
        await catalog.ensure_partitions("orders", [*first, first[0]])
        assert sorted(await partition_values(glue, database, "bronze_orders")) == first
        assert catalog.calls["get_partitions"] == 1 and catalog.calls["batch_create_partition"] == 1

        before = sum(catalog.calls.values())
        await catalog.ensure_partitions("orders", first)
        await catalog.ensure_partitions("orders", first[1:])
        assert sum(catalog.calls.values()) == before  # known: no request at all

        await catalog.ensure_partitions("orders", hours(4))
        assert catalog.calls["batch_create_partition"] == 2 and catalog.calls["get_partitions"] == 1
        assert sorted(await partition_values(glue, database, "bronze_orders")) == hours(4)

        dt, hr = hours(4)[3]
        part = (
            await glue.get_partition(
                DatabaseName=database, TableName="bronze_orders", PartitionValues=[dt, hr]
            )
        )["Partition"]
        assert part["StorageDescriptor"]["Location"] == f"{stack.lake_uri}/bronze/orders/dt={dt}/hr={hr}/"
    finally:
        await catalog.close()


async def test_more_than_100_partitions_at_once(aws_env, stack, database, glue) -> None:
    catalog = await open_catalog(aws_env, database, stack)
    try:
        await catalog.ensure_table("orders", ORDERS)
        many = hours(250)
        await catalog.ensure_partitions("orders", many)
        assert catalog.calls["batch_create_partition"] == 3
        assert sorted(await partition_values(glue, database, "bronze_orders")) == many
    finally:
        await catalog.close()


async def test_restarted_sink_with_registered_partitions(aws_env, stack, database, glue) -> None:
    first = await open_catalog(aws_env, database, stack)
    try:
        await first.ensure_table("orders", ORDERS)
        await first.ensure_partitions("orders", hours(5))
    finally:
        await first.close()

    second = await open_catalog(aws_env, database, stack)
    try:
        await second.ensure_partitions("orders", hours(5))  # no ensure_table first: reads the table
        assert second.calls["batch_create_partition"] == 0
        await second.ensure_table("orders", ORDERS)
        await second.ensure_partitions("orders", hours(6))
        assert second.calls["batch_create_partition"] == 1 and second.calls["get_partitions"] == 1

        # Another sink registers an hour after this one loaded its view: AlreadyExists is fine.
        late = hours(7)[6]
        late_input = table_input("orders", ORDERS, table_location(stack.lake_uri, "orders"))
        answer = await glue.batch_create_partition(
            DatabaseName=database,
            TableName="bronze_orders",
            PartitionInputList=[partition_input(*late, late_input)],
        )
        assert not answer.get("Errors")
        await second.ensure_partitions("orders", [late])
        assert second.calls["batch_create_partition"] == 2
        assert sorted(await partition_values(glue, database, "bronze_orders")) == hours(7)
    finally:
        await second.close()


async def test_partitions_of_a_missing_table(aws_env, stack, database) -> None:
    catalog = await open_catalog(aws_env, database, stack)
    try:
        with pytest.raises(CatalogError, match="ensure_table") as info:
            await catalog.ensure_partitions("orders", hours(1))
        assert not info.value.retriable
    finally:
        await catalog.close()
