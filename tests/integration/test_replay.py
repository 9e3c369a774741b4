"""A generated dataset replayed into the real local broker, read back by a consumer."""

import asyncio
import collections
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.dev import stack as devstack
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, dataset_file, read
from tests.integration.conftest import INTEGRATION_PARTITIONS
from tests.integration.sinkkit import Broker

pytestmark = pytest.mark.integration

BAD_ORDER = (
    '"ffffffffffffffffffffffffffffffff","ffffffffffffffffffffffffffffffff","teleported",'
    '"2018-01-01 00:00:00",,,,"2018-01-10 00:00:00"\n'
)


async def _consume_all(bootstrap: str, topics: list[str], expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"replay-check-{UUID(int=expected)}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + 90
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for batch in batches.values():
                records.extend(batch)
        # Anything beyond the expected count would be a duplicate: read a little longer.
        for _ in range(3):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_replay_accounts_for_every_event(stack, broker: Broker, tmp_path: Path) -> None:
    # A broker of its own: the session stack's topics also hold other tests' events, and
    # this test counts every record of every topic.
    devstack.create_topics(broker.bootstrap, list(contracts.topics()), INTEGRATION_PARTITIONS)
    data = tmp_path / "olist"
    generate(data, scale=0.005, seed=7)
    with (data / "olist_orders_dataset.csv").open("a") as handle:
        handle.write(BAD_ORDER)
    expected: dict[str, int] = {}
    for spec in contracts.entities():
        path, fmt = dataset_file(data, spec)
        expected[spec.topic] = sum(isinstance(i, Row) for i in read(path, spec, fmt))

    env = {**stack.env(), "PATH": "/usr/bin:/bin", "NEXUS_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap}
    rejects = tmp_path / "rejects.jsonl"
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "keystone_nexus",
            "replay",
            "--from",
            str(data),
            "--rejects",
            str(rejects),
            "--count",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reject_docs = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert len(reject_docs) == 1
    assert reject_docs[0]["file"] == "olist_orders_dataset.csv"
    assert "order_status" in reject_docs[0]["reason"]
    assert "olist_orders_dataset.csv:" in done.stderr

    ids_out = tmp_path / "ids.json"
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "keystone_nexus", "schemas", "sync", "--ids-out", str(ids_out)],
        env=env,
        check=True,
        capture_output=True,
    )
    version_ids = {k: UUID(v) for k, v in orjson.loads(ids_out.read_bytes()).items()}

    records = await _consume_all(broker.bootstrap, list(contracts.topics()), sum(expected.values()))
    per_topic = collections.Counter(r.topic for r in records)
    assert dict(per_topic) == {t: n for t, n in expected.items() if n}
    event_ids = [dict(r.headers)["event_id"] for r in records]
    assert len(set(event_ids)) == len(event_ids), "an event was delivered twice"
    for record in records:
        spec = contracts.entity_for_topic(record.topic)
        decoded = wire.decode(record.value)
        assert decoded.schema_version_id == version_ids[spec.schema_name]
        payload = orjson.loads(decoded.payload)
        assert set(payload) == set(spec.columns)
        assert record.key == "|".join(str(payload[k]) for k in spec.key_fields).encode()
    for line in done.stdout.splitlines():
        if line.startswith("olist.") and "records in the topic" in line:
            topic, count = line.split()[:2]
            assert int(count.replace(",", "")) == expected[topic]
