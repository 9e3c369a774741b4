"""Every AWS adapter times its requests and counts their errors, by service and
operation, against moto's server over real HTTP."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.errors import CatalogError, SchemaNotFoundError, StoreError
from keystone_nexus.lake import S3Store
from keystone_nexus.ops.cloudwatch import THROUGHPUT, CloudWatchPublisher
from keystone_nexus.ops.metrics import AwsCallMetrics, SinkMetrics
from keystone_nexus.registry.glue import GlueRegistry
from keystone_nexus.sink.glue_catalog import GlueCatalog

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> AwsOptions:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)


class Reader:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def calls(self, service: str, operation: str) -> float:
        labels = {"service": service, "operation": operation}
        return self.registry.get_sample_value("nexus_aws_call_duration_seconds_count", labels) or 0.0

    def seconds(self, service: str, operation: str) -> float:
        labels = {"service": service, "operation": operation}
        return self.registry.get_sample_value("nexus_aws_call_duration_seconds_sum", labels) or 0.0

    def errors(self, service: str, operation: str) -> float:
        labels = {"service": service, "operation": operation}
        return self.registry.get_sample_value("nexus_aws_call_errors_total", labels) or 0.0


async def test_s3_calls_and_errors(stack: StackInfo, aws: AwsOptions) -> None:
    registry = CollectorRegistry()
    calls = AwsCallMetrics(registry)
    read = Reader(registry)
    store = await S3Store.open(aws, stack.bucket, f"metrics-{uuid.uuid4().hex[:8]}", calls=calls, attempts=2)
    try:
        await store.put("a/one", b"1")
        await store.put("a/two", b"2", if_none_match=True)
        assert (await store.get("a/one")) is not None
        assert await store.get("a/missing") is None  # an answer, not an error
        assert await store.list("a/") == ["a/one", "a/two"]
    finally:
        await store.close()
    assert read.calls("s3", "PutObject") == 2 and read.errors("s3", "PutObject") == 0
    assert read.calls("s3", "GetObject") == 2 and read.errors("s3", "GetObject") == 0
    assert read.calls("s3", "ListObjectsV2") == 1
    assert read.seconds("s3", "PutObject") > 0

    missing = await S3Store.open(aws, f"no-such-bucket-{uuid.uuid4().hex[:8]}", calls=calls, attempts=2)
    try:
        with pytest.raises(StoreError, match="bucket does not exist"):
            await missing.put("x", b"x")
    finally:
        await missing.close()
    assert read.calls("s3", "PutObject") == 3 and read.errors("s3", "PutObject") == 1


async def test_glue_registry_calls_and_errors(aws: AwsOptions) -> None:
    metrics = SinkMetrics()  # the daemon's registry: the same series show on /metrics
    read = Reader(metrics.registry)
    registry = await GlueRegistry.open(aws, f"reg-{uuid.uuid4().hex[:8]}", calls=metrics.aws, attempts=2)
    try:
        await registry.ensure_registry()
        name = contracts.entities()[0].schema_name
        version, _ = await registry.register(name, schemas.all_definitions()[name])
        assert (await registry.get_version(version.version_id)).version_id == version.version_id
        with pytest.raises(SchemaNotFoundError):
            await registry.get_version(uuid.uuid4())
    finally:
        await registry.close()
    assert read.calls("glue", "CreateRegistry") == 1
    assert read.calls("glue", "CreateSchema") == 1
    assert read.calls("glue", "GetSchemaVersion") == 3  # after create, the read back, the unknown one
    assert read.errors("glue", "GetSchemaVersion") == 1  # not found is not retried: one try
    text = metrics.exposition().decode()
    assert (
        'nexus_aws_call_duration_seconds_bucket{le="0.005",operation="CreateSchema",service="glue"}' in text
    )
    assert 'nexus_aws_call_errors_total{operation="GetSchemaVersion",service="glue"} 1.0' in text


async def test_glue_catalog_calls_and_errors(stack: StackInfo, aws: AwsOptions) -> None:
    registry = CollectorRegistry()
    read = Reader(registry)
    database = f"metrics_{uuid.uuid4().hex[:8]}"
    catalog = await GlueCatalog.open(
        aws, database=database, lake_uri=stack.lake_uri, attempts=2, calls=AwsCallMetrics(registry)
    )
    try:
        entity = contracts.entities()[0]
        await catalog.ensure_table(entity.name, schemas.all_definitions()[entity.schema_name])
        await catalog.ensure_partitions(entity.name, [("2024-01-01", "00"), ("2024-01-01", "01")])
        with pytest.raises(CatalogError, match="does not exist"):
            await catalog.ensure_partitions("no_such_entity", [("2024-01-01", "00")])
    finally:
        await catalog.close()
    assert read.calls("glue", "GetDatabase") == 1 and read.errors("glue", "GetDatabase") == 1
    assert read.calls("glue", "CreateDatabase") == 1 and read.errors("glue", "CreateDatabase") == 0
    assert read.calls("glue", "CreateTable") == 1
    assert read.calls("glue", "BatchCreatePartition") == 1
    assert read.calls("glue", "GetPartitions") == 2 and read.errors("glue", "GetPartitions") == 1


async def test_cloudwatch_calls_and_errors(stack: StackInfo, aws: AwsOptions) -> None:
    registry = CollectorRegistry()
    read = Reader(registry)
    calls = AwsCallMetrics(registry)
    status = {"topics": {}, "partitions": [], "totals": {"records_valid": 5}}
    publisher = await CloudWatchPublisher.open(
        aws, lambda: status, group="g", namespace=f"Test{uuid.uuid4().hex[:8]}", calls=calls
    )
    try:
        await publisher.publish_once()
    finally:
        await publisher.close()
    assert read.calls("cloudwatch", "PutMetricData") == 1 and read.errors("cloudwatch", "PutMetricData") == 0

    down = AwsOptions(endpoint_url="http://127.0.0.1:9", connect_timeout_s=0.3, read_timeout_s=0.3)
    unreachable = await CloudWatchPublisher.open(down, lambda: status, group="g", attempts=2, calls=calls)
    try:
        await unreachable.publish_once()
    finally:
        await unreachable.close()
    assert unreachable.dropped == len(THROUGHPUT)  # one datum per throughput figure
    assert read.calls("cloudwatch", "PutMetricData") == 3 and read.errors("cloudwatch", "PutMetricData") == 2
