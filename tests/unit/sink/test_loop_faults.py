"""The consume loop under faults injected in front of the lake and the consumer: a failed
batch and its rewind, a failing assignment, a Kafka commit that never completes, offsets
out of range. The committer, registry and encoder are the real ones on a local lake."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from aiokafka.errors import OffsetOutOfRangeError

from keystone_nexus.errors import StoreUnavailableError
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.ops.health import HealthServer
from keystone_nexus.sink.daemon import BronzeSink, Rebalance
from tests.unit.sink.loopkit import (
    TP,
    FaultyStore,
    LogConsumer,
    assert_checkpoints_move_forward,
    make_sink,
    next_offset,
    registry_at,
    run_until,
)
from tests.unit.sink.test_commit import ENTITY, lake_offsets, make_records


def metric(sink: BronzeSink, name: str, **labels: str) -> float | None:
    return sink.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
async def lake(tmp_path: Path):
    registry, result = await registry_at(tmp_path / "registry")
    store = FaultyStore(LocalStore(tmp_path / "lake"))
    with ThreadPoolExecutor(2) as executor:
        yield store, registry, executor, result.version_ids()[ENTITY.schema_name], tmp_path / "lake"


async def test_no_cut_between_a_failed_batch_and_its_rewind(lake) -> None:
    """The first batch's data put fails while more records arrive; the rewind's checkpoint
    reload is slow. Records fetched meanwhile must not be cut from the checkpoint's offset:
    that batch would claim offsets 0-9 that it does not hold, and they would never land."""
    store, registry, executor, version, root = lake
    records, valid, invalid = make_records(version, n=30)
    consumer = LogConsumer({TP: records[:10]})  # the rest is produced during the failure
    sink = make_sink(consumer, store, registry, executor)
    failed_once = asyncio.Event()
    released = asyncio.Event()

    async def before_put(key: str, _data: bytes) -> None:
        if key.startswith(("bronze/", "dlq/")) and not failed_once.is_set():
            failed_once.set()
            consumer.logs[TP].extend(records[10:])
            raise StoreUnavailableError("injected: S3 is down")
        if key.startswith("_checkpoints/") and failed_once.is_set():
            released.set()  # a checkpoint write after the failure: the held reload may go

    async def before_get(key: str) -> None:
        if failed_once.is_set() and not released.is_set():  # the rewind's reload: slow
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), 3.0)
            released.set()

    store.before_put, store.before_get = before_put, before_get
    await sink.assign({TP})

    async def caught_up() -> bool:
        return await next_offset(store) >= 30

    assert await run_until(sink, caught_up), sink.status()
    assert failed_once.is_set()
    assert_checkpoints_move_forward(store.checkpoints)
    assert lake_offsets(root, "bronze") == sorted(valid), "every valid record once, none missing"
    assert lake_offsets(root, "dlq") == sorted(invalid)


async def test_a_failing_assignment_pauses_the_partition_and_is_retried_from_the_loop(lake) -> None:
    """The checkpoint GET fails (after its retries) and then `committed()` hangs: the
    partition is paused, listed as waiting in /status, counted and fails /readyz; the loop
    sets it up once the lake answers, and every record lands."""
    store, registry, executor, version, root = lake
    records, valid, _ = make_records(version, n=30)
    consumer = LogConsumer({TP: records})
    sink = make_sink(consumer, store, registry, executor, setup_timeout_s=0.5)
    gets = 0

    async def before_get(key: str) -> None:
        nonlocal gets
        gets += 1
        if gets == 1:
            raise StoreUnavailableError("injected: GetObject failed after its retries")

    hangs = 1

    async def committed_hook(_tp: object) -> None:
        nonlocal hangs
        if gets >= 1 and hangs:  # the second try: the group coordinator does not answer
            hangs -= 1
            await asyncio.Event().wait()

    store.before_get, consumer.committed_hook = before_get, committed_hook
    await Rebalance(sink).on_partitions_assigned({TP})  # must not raise (aiokafka would swallow it)
    assert TP in consumer.paused and TP not in sink.parts
    status = sink.status()
    assert [(w["topic"], w["partition"], w["attempts"]) for w in status["waiting"]] == [(TP.topic, 0, 1)]
    assert "StoreUnavailableError" in status["waiting"][0]["error"]
    assert metric(sink, "nexus_sink_partition_setup_failures_total", topic=TP.topic) == 1
    assert metric(sink, "nexus_sink_partitions_waiting") == 1
    health = HealthServer(sink, "127.0.0.1:1", "127.0.0.1", 0, liveness_bound_s=30)
    ready = await health.readyz(None)  # type: ignore[arg-type]
    assert ready.status == 503 and b"partition setup failing" in ready.body  # type: ignore[operator]

    async def caught_up() -> bool:
        return await next_offset(store) >= 30

    assert await run_until(sink, caught_up), sink.status()
    assert not sink.waiting and TP not in consumer.paused
    assert metric(sink, "nexus_sink_partition_setup_failures_total", topic=TP.topic) == 2, "the hang counted"
    assert sink.status()["waiting"] == []
    assert lake_offsets(root, "bronze") == sorted(valid)


async def test_a_kafka_commit_that_never_completes_does_not_block_the_partition(lake) -> None:
    """The lake checkpoint already holds the truth: a consumer commit that hangs is given
    up after its bound, counted, and the partition goes on with its next batch."""
    store, registry, executor, version, root = lake
    records, valid, _ = make_records(version, n=30)
    consumer = LogConsumer({TP: records})
    sink = make_sink(consumer, store, registry, executor, kafka_commit_timeout_s=0.2, drain_timeout_s=2)

    async def hang() -> None:
        await asyncio.Event().wait()

    consumer.commit_hook = hang
    await sink.assign({TP})

    async def caught_up() -> bool:
        return await next_offset(store) >= 30

    assert await run_until(sink, caught_up), sink.status()
    assert lake_offsets(root, "bronze") == sorted(valid)
    assert sink.totals.batches == 3
    assert metric(sink, "nexus_sink_kafka_commit_failures_total", topic=TP.topic) == 3


@pytest.mark.parametrize("policy", ["halt", "skip"])
async def test_a_checkpoint_below_the_log_start_is_never_passed_over_silently(lake, policy: str) -> None:
    """Retention removed offsets 0-14 before the sink landed them. halt: the partition
    stops, shown and counted; skip: the gap is recorded in the lake, the checkpoint moves
    to the log start, and the records still in the log land."""
    store, registry, executor, version, root = lake
    records, valid, _ = make_records(version, n=30)
    consumer = LogConsumer({TP: records[15:]})
    consumer.log_start[TP] = 15
    sink = make_sink(consumer, store, registry, executor, on_out_of_range=policy)
    await sink.assign({TP})
    assert metric(sink, "nexus_sink_offsets_out_of_range_total", topic=TP.topic, side="below-log-start") == 1
    if policy == "halt":

        async def never() -> bool:
            return False

        await run_until(sink, never, timeout_s=1.0)
        (part,) = sink.status()["partitions"]
        assert part["out_of_range"]["side"] == "below-log-start" and part["paused"]
        assert (part["out_of_range"]["first"], part["out_of_range"]["last"]) == (0, 14)
        assert any("offsets out of range (halt)" in r for r in sink.ready_reasons())
        assert not lake_offsets(root, "bronze") and not (root / "_gaps").exists()
        return

    async def caught_up() -> bool:
        return await next_offset(store) >= 30

    assert await run_until(sink, caught_up), sink.status()
    gap = orjson.loads((root / "_gaps" / TP.topic / "0" / "0-14.json").read_bytes())
    assert (gap["side"], gap["first"], gap["last"], gap["log_start"]) == ("below-log-start", 0, 14, 15)
    assert lake_offsets(root, "bronze") == sorted(o for o in valid if o >= 15)
    assert not sink.ready_reasons()


async def test_the_brokers_offset_out_of_range_error_halts_the_partition(lake) -> None:
    """MSK answers a fetch beyond the log end with OFFSET_OUT_OF_RANGE; with no reset of
    its own, the consumer raises it, and the sink stops the partition instead of jumping."""
    store, registry, executor, version, _root = lake
    records, _, _ = make_records(version, n=5)
    consumer = LogConsumer({TP: records})
    sink = make_sink(consumer, store, registry, executor, out_of_range_confirm_s=0.3)
    await sink.assign({TP})
    consumer.fetch_errors.extend(OffsetOutOfRangeError({TP: 7}) for _ in range(100))  # every fetch

    async def halted() -> bool:
        return bool(sink.parts[TP].out_of_range)

    assert await run_until(sink, halted, timeout_s=5.0)
    found = sink.status()["partitions"][0]["out_of_range"]
    assert found["side"] == "beyond-log-end" and TP in consumer.paused
    assert metric(sink, "nexus_sink_offsets_out_of_range_total", topic=TP.topic, side="beyond-log-end") == 1


async def test_a_high_water_mark_that_lags_for_a_moment_is_no_re_created_log(lake) -> None:
    """A new leader can answer with a high-water mark below offsets already landed until
    its followers report back: the sink waits `out_of_range_confirm_s` before calling the
    checkpoint beyond the log end, and lands what follows once the mark has caught up."""
    store, registry, executor, version, root = lake
    records, valid, _ = make_records(version, n=30)
    first = make_sink(LogConsumer({TP: records[:20]}), store, registry, executor)
    await first.assign({TP})

    async def landed_20() -> bool:
        return await next_offset(store) >= 20

    assert await run_until(first, landed_20), first.status()
    consumer = LogConsumer({TP: records[:15]})  # the lagging leader's answer: the mark at 15
    sink = make_sink(consumer, store, registry, executor, out_of_range_confirm_s=2.0)
    await sink.assign({TP})

    async def caught_up() -> bool:
        if asyncio.get_running_loop().time() - started > 0.5:
            consumer.logs[TP] = records  # the mark has caught up
        return await next_offset(store) >= 30

    started = asyncio.get_running_loop().time()
    assert await run_until(sink, caught_up), sink.status()
    assert sink.totals.offsets_out_of_range == 0 and not (root / "_gaps").exists()
    assert lake_offsets(root, "bronze") == sorted(valid)

    stays = make_sink(LogConsumer({TP: records[:15]}), store, registry, executor, out_of_range_confirm_s=0.5)
    await stays.assign({TP})

    async def halted() -> bool:
        return stays.parts[TP].out_of_range is not None

    assert await run_until(stays, halted, timeout_s=5.0)
    found = stays.parts[TP].out_of_range
    assert found is not None and found.side == "beyond-log-end"
