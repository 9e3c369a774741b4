"""The bronze sink writing to S3 (moto's server over HTTP) with the Glue registry,
through an S3 outage."""

from __future__ import annotations

import io
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import orjson
import pyarrow.parquet as pq
import pytest

from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from tests.integration.sinkkit import (
    Broker,
    Coord,
    SinkProcess,
    produce_known_set,
    registered_versions,
    sink_env,
)

pytestmark = pytest.mark.integration


def _s3(stack: StackInfo) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def s3_coords(s3: Any, bucket: str, prefix: str) -> Counter[Coord]:
    found: Counter[Coord] = Counter()
    for key in _keys(s3, bucket, prefix):
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            table = pq.read_table(io.BytesIO(body), columns=["_topic", "_partition", "_offset"])
            for row in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
                found[(row[0], row[1], row[2])] += 1
    return found


def s3_caught_up(s3: Any, bucket: str, prefix: str, ends: dict[tuple[str, int], int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = {}
        for key in _keys(s3, bucket, f"{prefix}/_checkpoints/"):
            doc = orjson.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if doc.get("pending") is None:
                done[(doc["topic"], doc["partition"])] = doc["next_offset"]
        if all(done.get(k, 0) >= v for k, v in ends.items()):
            return True
        time.sleep(1)
    return False


def test_s3_lake_through_an_outage(stack: StackInfo, broker: Broker, tmp_path: Path) -> None:
    prefix = f"lake-{uuid.uuid4().hex[:8]}"
    env = sink_env(
        broker.bootstrap,
        f"s3://{stack.bucket}/{prefix}",
        tmp_path / "unused",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_REGISTRY__KIND="glue",
        NEXUS_REGISTRY__REGISTRY_NAME=f"reg-{uuid.uuid4().hex[:6]}",
        NEXUS_AWS__ENDPOINT_URL=stack.aws_endpoint_url,
        NEXUS_AWS__REGION=stack.region,
        NEXUS_AWS__CONNECT_TIMEOUT_S="1",
        NEXUS_AWS__READ_TIMEOUT_S="2",
        NEXUS_AWS__MAX_ATTEMPTS="2",
        NEXUS_CATALOG__DATABASE=f"bronze_{uuid.uuid4().hex[:6]}",
        NEXUS_SINK__MAX_BATCH_RECORDS="20",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    # The Glue registry assigns its own version ids: register first, produce with them.
    versions = registered_versions(env, tmp_path)
    produced = produce_known_set(broker.bootstrap, 300, versions=versions)
    s3 = _s3(stack)
    moto = devstack.processes(stack.state_dir)["moto"]
    run = SinkProcess(env, tmp_path)
    try:
        # Let it start (registry sync, group join) and write some batches, then take S3 away.
        deadline = time.monotonic() + 40
        while not _keys(s3, stack.bucket, f"{prefix}/bronze/") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _keys(s3, stack.bucket, f"{prefix}/bronze/"), run.log()
        moto.pause()
        try:
            more = produce_known_set(broker.bootstrap, 200, start=5_000, versions=versions)
            time.sleep(12)
            assert run.proc.poll() is None, "one S3 outage must not kill the sink\n" + run.log()
        finally:
            moto.resume()
        for key, end in more.ends.items():
            produced.ends[key] = max(produced.ends.get(key, 0), end)
        assert s3_caught_up(s3, stack.bucket, prefix, produced.ends, 120), run.log()
    finally:
        assert run.stop() == 0, run.log()
    assert "batch failed" in run.log_path.read_text(), "the outage was expected to fail some batches"
    bronze = s3_coords(s3, stack.bucket, f"{prefix}/bronze/")
    dlq = s3_coords(s3, stack.bucket, f"{prefix}/dlq/")
    assert max(bronze.values()) == 1 and max(dlq.values()) == 1
    assert len(bronze) > len(dlq) * 10
    # Athena sees the new data without a crawler: tables and hour partitions are in Glue.
    glue = boto3.client(
        "glue",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    database = env["NEXUS_CATALOG__DATABASE"]
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert set(tables) == {"bronze_payments", "bronze_orders"}
    columns = [c["Name"] for c in tables["bronze_payments"]["StorageDescriptor"]["Columns"]]
    assert columns[:2] == ["order_id", "payment_sequential"] and "_offset" in columns
    assert (
        tables["bronze_payments"]["StorageDescriptor"]["Location"]
        == f"s3://{stack.bucket}/{prefix}/bronze/payments/"
    )
    hours = {
        k.split("/")[3:5][0] + "/" + k.split("/")[4]
        for k in _keys(s3, stack.bucket, f"{prefix}/bronze/payments/")
    }
    partitions = glue.get_partitions(DatabaseName=database, TableName="bronze_payments")["Partitions"]
    assert {f"dt={p['Values'][0]}/hr={p['Values'][1]}" for p in partitions} == hours
    assert set(bronze) == produced.valid | more.valid
    assert set(dlq) == produced.invalid | more.invalid
