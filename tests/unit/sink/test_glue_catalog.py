"""The bronze catalog's pure parts (Glue requests, column merging) and its retry rules
against a fake Glue client."""

from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError
from keystone_nexus.contracts.entities import FieldType
from keystone_nexus.errors import CatalogError, NexusError
from keystone_nexus.sink.glue_catalog import (
    GlueCatalog,
    NoCatalog,
    merged_columns,
    partition_input,
    table_input,
    table_location,
)

LAKE = "s3://nexus-lake/lake"
META = [
    ("_topic", "string"),
    ("_partition", "int"),
    ("_offset", "bigint"),
    ("_kafka_timestamp", "timestamp"),
    ("_schema_version_id", "string"),
    ("_ingested_at", "timestamp"),
]
HIVE = {FieldType.STRING: "string", FieldType.INTEGER: "bigint", FieldType.NUMBER: "double"}


def columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


@pytest.mark.parametrize("entity", contracts.entities(), ids=lambda e: e.name)
def test_table_input_for_every_entity(entity: contracts.EntitySpec) -> None:
    definition = schemas.all_definitions()[entity.schema_name]
    table = table_input(entity.name, definition, table_location(LAKE, entity.name))
    assert table["Name"] == f"bronze_{entity.name}"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"] == {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",
    }
    assert columns(table) == [(f.name, HIVE[f.type]) for f in entity.fields] + META
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}, {"Name": "hr", "Type": "string"}]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == f"{LAKE}/bronze/{entity.name}/"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert (
        sd["SerdeInfo"]["SerializationLibrary"]
        == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )


def test_table_name_prefix_and_location_slashes() -> None:
    definition = schemas.all_definitions()["olist.orders.v1"]
    table = table_input("orders", definition, "s3://b/p/bronze/orders", table_prefix="raw_")
    assert table["Name"] == "raw_orders"
    assert table["StorageDescriptor"]["Location"] == "s3://b/p/bronze/orders/"
    assert table_location("s3://b/p/", "orders") == "s3://b/p/bronze/orders/"
    assert table_location("s3://b", "orders") == "s3://b/bronze/orders/"


def test_unsupported_schema_is_refused() -> None:
    with pytest.raises(UnsupportedSchemaError):
        table_input(
            "x",
            '{"type": "object", "properties": {"a": {"type": "array"}}, "additionalProperties": false}',
            LAKE,
        )


def test_partition_input_location_and_values() -> None:
    table = table_input(
        "orders", schemas.all_definitions()["olist.orders.v1"], table_location(LAKE, "orders")
    )
    part = partition_input("2018-01-01", "07", table)
    assert part["Values"] == ["2018-01-01", "07"]
    assert part["StorageDescriptor"]["Location"] == f"{LAKE}/bronze/orders/dt=2018-01-01/hr=07/"
    assert part["StorageDescriptor"]["Columns"] == table["StorageDescriptor"]["Columns"]
    assert table["StorageDescriptor"]["Location"] == f"{LAKE}/bronze/orders/"  # not modified
    for dt, hr in [("2018-1-1", "07"), ("2018-01-01", "7"), ("2018-01-01/x", "07")]:
        with pytest.raises(ValueError):
            partition_input(dt, hr, table)


def _evolved(add: dict[str, Any], drop: str | None = None) -> str:
    doc = orjson.loads(schemas.all_definitions()["olist.orders.v1"])
    doc["properties"].update(add)
    if drop is not None:
        doc["properties"].pop(drop)
        doc["required"] = [r for r in doc["required"] if r != drop]
    return schemas.definition(doc)


def test_merged_columns_add_and_never_drop() -> None:
    v1 = table_input("orders", schemas.all_definitions()["olist.orders.v1"], LAKE)
    old = v1["StorageDescriptor"]["Columns"]
    payload = [c["Name"] for c in old if not c["Name"].startswith("_")]
    v2 = table_input(
        "orders", _evolved({"order_channel": {"type": ["string", "null"]}}, drop=payload[-1]), LAKE
    )
    merged = merged_columns(old, v2["StorageDescriptor"]["Columns"])
    assert [c["Name"] for c in merged] == [*payload, "order_channel", *(n for n, _ in META)]
    assert merged_columns(merged, old) == merged  # an older schema changes nothing
    assert merged_columns(old, old) == old


def test_merged_columns_refuse_a_type_change() -> None:
    v1 = table_input("orders", schemas.all_definitions()["olist.orders.v1"], LAKE)
    name = v1["StorageDescriptor"]["Columns"][0]["Name"]
    v2 = table_input("orders", _evolved({name: {"type": "number"}}), LAKE)
    with pytest.raises(CatalogError, match=name) as info:
        merged_columns(v1["StorageDescriptor"]["Columns"], v2["StorageDescriptor"]["Columns"])
    assert not info.value.retriable and isinstance(info.value, NexusError)


async def test_no_catalog_does_nothing() -> None:
    catalog = NoCatalog()
    await catalog.ensure_table("orders", "not even json")
    await catalog.ensure_partitions("orders", [("2018-01-01", "00")])
    await catalog.close()


def test_glue_catalog_needs_an_s3_lake() -> None:
    with pytest.raises(ValueError, match="s3://"):
        GlueCatalog(object(), database="d", lake_uri="file:///tmp/lake")


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


class FakeGlue:
    """Answers from a script: per operation, a list of results or exceptions."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script

    def __getattr__(self, operation: str) -> Any:
        async def call(**params: Any) -> Any:
            outcome = self.script[operation].pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        return call


def _catalog(script: dict[str, list[Any]]) -> GlueCatalog:
    return GlueCatalog(FakeGlue(script), database="d", lake_uri=LAKE, attempts=3)


async def test_transient_errors_are_retried() -> None:
    catalog = _catalog(
        {
            "get_database": [
                _client_error("ThrottlingException"),
                _client_error("InternalFailure", 503),
                EndpointConnectionError(endpoint_url="http://x"),
            ]
        }
    )
    with pytest.raises(CatalogError) as info:
        await catalog.ensure_database()
    assert info.value.retriable and catalog.calls["get_database"] == 3

    catalog = _catalog({"get_database": [_client_error("ThrottlingException"), {"Database": {}}]})
    await catalog.ensure_database()
    assert catalog.calls["get_database"] == 2


async def test_other_errors_are_raised_at_once() -> None:
    catalog = _catalog({"get_database": [_client_error("AccessDeniedException")]})
    with pytest.raises(CatalogError) as info:
        await catalog.ensure_database()
    assert not info.value.retriable and info.value.code == "AccessDeniedException"
    assert catalog.calls["get_database"] == 1


async def test_partition_entry_errors() -> None:
    table = table_input(
        "orders", schemas.all_definitions()["olist.orders.v1"], table_location(LAKE, "orders")
    )
    exists = {"PartitionValues": ["2018-01-01", "00"], "ErrorDetail": {"ErrorCode": "AlreadyExistsException"}}
    busy = {"PartitionValues": ["2018-01-01", "01"], "ErrorDetail": {"ErrorCode": "InternalServiceException"}}
    denied = {"PartitionValues": ["2018-01-01", "02"], "ErrorDetail": {"ErrorCode": "AccessDeniedException"}}
    catalog = _catalog(
        {
            "get_table": [{"Table": {**table, "VersionId": "1"}}],
            "get_partitions": [{"Partitions": []}],
            "batch_create_partition": [
                {"Errors": [exists, busy]},
                {"Errors": [exists]},
                {"Errors": [denied]},
            ],
        }
    )
    hours = [("2018-01-01", "00"), ("2018-01-01", "01")]
    await catalog.ensure_partitions("orders", hours)
    assert catalog.calls["batch_create_partition"] == 2  # the transient entry made it try again
    await catalog.ensure_partitions("orders", hours)
    assert catalog.calls["batch_create_partition"] == 2
    with pytest.raises(CatalogError, match="AccessDeniedException") as info:
        await catalog.ensure_partitions("orders", [("2018-01-01", "02")])
    assert not info.value.retriable
