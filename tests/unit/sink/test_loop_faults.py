"""The consume loop under faults injected in front of the lake and the consumer: a failed
batch and its rewind, a failing assignment, a Kafka commit that never completes, offsets
out of range. The committer, registry and encoder are the real ones on a local lake."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keystone_nexus.errors import StoreUnavailableError
from keystone_nexus.lake.local import LocalStore
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
