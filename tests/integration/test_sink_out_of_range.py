"""Offsets out of range against a real broker: the topics are re-created (the local
broker restarted: memory storage) under a lake whose checkpoints are past their new end.
halt stops every partition and says so; skip records the gap and lands the new records."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from keystone_nexus.dev import stack as devstack
from tests.integration.sinkkit import (
    PARTITIONS,
    TOPICS,
    Broker,
    SinkProcess,
    checkpoint_offsets,
    get,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_caught_up,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_a_re_created_topic_halts_by_default_and_skip_records_the_gap(broker: Broker, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_SINK__OUT_OF_RANGE_CONFIRM_S="2",
    )
    old = produce_known_set(broker.bootstrap, 90)
    first = SinkProcess(env, tmp_path)
    try:
        assert wait_caught_up(lake, old.ends, 90, alive=lambda: first.proc.poll() is None), first.log()
    finally:
        assert first.stop() == 0, first.log()
    landed = checkpoint_offsets(lake)
    assert len(landed) == len(TOPICS) * PARTITIONS

    broker.process = broker.process.restart()  # memory storage: the topics are gone
    devstack.wait_for_broker(broker.bootstrap, timeout=30)
    devstack.create_topics(broker.bootstrap, list(TOPICS), PARTITIONS)
    new = produce_known_set(broker.bootstrap, 6, start=500_000)
    assert all(new.ends.get(key, 0) < end for key, end in landed.items())

    port = devstack.free_port()
    halted = SinkProcess(env, tmp_path, NEXUS_HEALTH__PORT=str(port))
    base = f"http://127.0.0.1:{port}"

    def all_halted() -> bool:
        code, body = get(f"{base}/status")
        parts = orjson.loads(body)["partitions"] if code == 200 else []
        return len(parts) == len(landed) and all(p["out_of_range"] for p in parts)

    try:
        assert wait_for(all_halted, 60), (get(f"{base}/status"), halted.log())
        for p in orjson.loads(get(f"{base}/status")[1])["partitions"]:
            key = (p["topic"], p["partition"])
            found = p["out_of_range"]
            assert (found["side"], found["checkpoint_next_offset"]) == ("beyond-log-end", landed[key])
            assert found["log_end"] == new.ends.get(key, 0)
        code, body = get(f"{base}/readyz")
        assert code == 503 and b"offsets out of range (halt)" in body
        metrics = get(f"{base}/metrics")[1].decode()
        assert (
            'nexus_sink_offsets_out_of_range_total{side="beyond-log-end",topic="olist.orders.v1"} 3.0'
            in metrics
        )
        assert "checkpoint out of the partition's log" in halted.log_path.read_text()
    finally:
        assert halted.stop() == 0, halted.log()
    assert checkpoint_offsets(lake) == landed, "halt moves nothing"
    assert not (lake / "_gaps").exists()

    skipping = SinkProcess(env, tmp_path, NEXUS_SINK__ON_OFFSET_OUT_OF_RANGE="skip")
    want = {key: new.ends.get(key, 0) for key in landed}
    try:
        assert wait_for(lambda: checkpoint_offsets(lake) == want, 90), (
            checkpoint_offsets(lake),
            skipping.log(),
        )
    finally:
        assert skipping.stop() == 0, skipping.log()
    for (topic, partition), end in landed.items():
        gap = orjson.loads((lake / "_gaps" / topic / str(partition) / f"0-{end - 1}.json").read_bytes())
        assert (gap["side"], gap["checkpoint_next_offset"], gap["log_start"]) == ("beyond-log-end", end, 0)
    assert new.valid <= set(lake_coords(lake, "bronze"))
