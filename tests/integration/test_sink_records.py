"""Records that once stalled a partition or landed twice, through the real broker,
moto's S3 and the Glue registry: each lands or is dead-lettered once, and the sink
reaches the end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from confluent_kafka import Producer

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from tests.integration.sinkkit import Broker, _payment, registered_versions, sink_env
from tests.integration.test_sink_s3 import _s3, s3_coords

pytestmark = pytest.mark.integration

TOPIC = "olist.payments.v1"


def _aws_env(stack: StackInfo, broker: Broker, tmp_path: Path, topic: str) -> tuple[dict[str, str], str]:
    prefix = f"lake-{uuid.uuid4().hex[:8]}"
    env = sink_env(
        broker.bootstrap,
        f"s3://{stack.bucket}/{prefix}",
        tmp_path / "unused",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_KAFKA__TOPICS=topic,
        NEXUS_REGISTRY__KIND="glue",
        NEXUS_REGISTRY__REGISTRY_NAME=f"reg-{uuid.uuid4().hex[:6]}",
        NEXUS_AWS__ENDPOINT_URL=stack.aws_endpoint_url,
        NEXUS_AWS__REGION=stack.region,
        NEXUS_CATALOG__ENABLED="false",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    return env, prefix


def _run_until_idle(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "run", "--until-idle", "4"],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=150,
    )


def test_zlib_framed_records_land_and_a_poison_timestamp_is_dead_lettered(
    stack: StackInfo, broker: Broker, tmp_path: Path
) -> None:
    env, prefix = _aws_env(stack, broker, tmp_path, TOPIC)
    version = registered_versions(env, tmp_path)[contracts.entity_for_topic(TOPIC).schema_name]
    coords: dict[int, tuple[str, int, int]] = {}
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        coords[int(msg.key())] = (msg.topic(), msg.partition(), msg.offset())

    for i in range(60):
        # Every record compressed as the AWS serdes write it with compression on.
        value = wire.encode(orjson.dumps(_payment(i)), version, compression=wire.COMPRESSION_ZLIB)
        stamp = 1_700_000_000_000_000 if i == 7 else 1_700_000_000_000 + i  # 7: microseconds
        producer.produce(TOPIC, key=str(i).encode(), value=value, timestamp=stamp, on_delivery=delivered)
    assert producer.flush(30) == 0
    run = _run_until_idle(env)
    assert run.returncode == 0, run.stderr[-3000:]
    s3 = _s3(stack)
    bronze = s3_coords(s3, stack.bucket, f"{prefix}/bronze/")
    dlq = s3_coords(s3, stack.bucket, f"{prefix}/dlq/")
    assert set(bronze) == {c for i, c in coords.items() if i != 7} and max(bronze.values()) == 1
    assert set(dlq) == {coords[7]}


def test_a_cut_repeated_under_a_new_schema_version_lands_each_record_once(
    stack: StackInfo, broker: Broker, tmp_path: Path
) -> None:
    """Seen: 21 unframed seller records in one partition, the first invalid under the
    latest schema; the sink dies (kill -9) after writing the batch's objects and before
    its checkpoint; a new latest version that accepts the first record is registered;
    the restarted sink repeats the cut. Each offset must be in exactly one object."""
    topic = "olist.sellers.v1"
    devstack.create_topics(broker.bootstrap, [topic], 1)
    env, prefix = _aws_env(stack, broker, tmp_path, topic)
    registered_versions(env, tmp_path)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(21):
        doc = {
            "seller_id": f"{i:032x}",
            "seller_zip_code_prefix": "01001",
            "seller_city": "sp",
            "seller_state": "SP",
        }
        if i == 0:
            doc["seller_tier"] = "gold"  # not in the schema yet
        producer.produce(topic, value=orjson.dumps(doc), partition=0)
    assert producer.flush(30) == 0
    crashed = _run_until_idle(env, NEXUS_SINK__MAX_BATCH_RECORDS="100", NEXUS_SINK__CRASH_AT="after_data:1")
    assert crashed.returncode == 137, crashed.stderr[-3000:]
    s3 = _s3(stack)
    assert set(s3_coords(s3, stack.bucket, f"{prefix}/dlq/")) == {(topic, 0, 0)}

    glue = boto3.client(
        "glue",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    schema = {"RegistryName": env["NEXUS_REGISTRY__REGISTRY_NAME"], "SchemaName": topic}
    latest = glue.get_schema_version(SchemaId=schema, SchemaVersionNumber={"LatestVersion": True})
    definition = orjson.loads(latest["SchemaDefinition"])
    definition["properties"]["seller_tier"] = {"type": ["string", "null"]}
    glue.register_schema_version(SchemaId=schema, SchemaDefinition=orjson.dumps(definition).decode())

    repeated = _run_until_idle(env, NEXUS_SINK__MAX_BATCH_RECORDS="100")
    assert repeated.returncode == 0, repeated.stderr[-3000:]
    bronze = s3_coords(s3, stack.bucket, f"{prefix}/bronze/")
    dlq = s3_coords(s3, stack.bucket, f"{prefix}/dlq/")
    assert set(bronze) == {(topic, 0, i) for i in range(21)} and max(bronze.values()) == 1
    assert not dlq, "the record the new version accepts must not stay dead-lettered beside its bronze row"
