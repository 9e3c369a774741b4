"""Records that once stalled a partition, through the real broker, moto's S3 and the
Glue registry: each lands or is dead-lettered, and the sink reaches the end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from confluent_kafka import Producer

from keystone_nexus import contracts, wire
from keystone_nexus.devstack import StackInfo
from tests.integration.sinkkit import Broker, _payment, sink_env
from tests.integration.test_sink_s3 import _s3, s3_coords

pytestmark = pytest.mark.integration

TOPIC = "olist.payments.v1"


def test_zlib_framed_records_land_and_a_poison_timestamp_is_dead_lettered(
    stack: StackInfo, broker: Broker, tmp_path: Path
) -> None:
    prefix = f"lake-{uuid.uuid4().hex[:8]}"
    env = sink_env(
        broker.bootstrap,
        f"s3://{stack.bucket}/{prefix}",
        tmp_path / "unused",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_KAFKA__TOPICS=TOPIC,
        NEXUS_REGISTRY__KIND="glue",
        NEXUS_REGISTRY__REGISTRY_NAME=f"reg-{uuid.uuid4().hex[:6]}",
        NEXUS_AWS__ENDPOINT_URL=stack.aws_endpoint_url,
        NEXUS_AWS__REGION=stack.region,
        NEXUS_CATALOG__ENABLED="false",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    ids_file = tmp_path / "ids.json"
    subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "schemas", "sync", "--ids-out", str(ids_file)],
        env=env,
        check=True,
        capture_output=True,
    )
    version = UUID(orjson.loads(ids_file.read_bytes())[contracts.entity_for_topic(TOPIC).schema_name])
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
    run = subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "run", "--until-idle", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    s3 = _s3(stack)
    bronze = s3_coords(s3, stack.bucket, f"{prefix}/bronze/")
    dlq = s3_coords(s3, stack.bucket, f"{prefix}/dlq/")
    assert set(bronze) == {c for i, c in coords.items() if i != 7} and max(bronze.values()) == 1
    assert set(dlq) == {coords[7]}
