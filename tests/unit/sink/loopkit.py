"""Test aids for the consume loop: a consumer over an in-memory log, and a lake store
with faults injected in front of a real local store (the committer, the registry and
the encoder are the real ones)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from keystone_nexus.lake.local import LocalStore
from keystone_nexus.lake.store import StoredObject
from keystone_nexus.registry import sync_schemas
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.sink import checkpoint
from keystone_nexus.sink.batcher import CutRules, RawRecord
from keystone_nexus.sink.checkpoint import Checkpoint
from keystone_nexus.sink.commit import CommitOptions
from keystone_nexus.sink.daemon import BronzeSink, SinkOptions
from keystone_nexus.sink.naming import CHECKPOINTS

TOPIC = "olist.payments.v1"
TP = TopicPartition(TOPIC, 0)


class LogConsumer:
    """What BronzeSink asks of AIOKafkaConsumer, over one in-memory log per partition:
    getmany returns records from each unpaused partition's position, as a broker would."""

    def __init__(
        self, logs: dict[TopicPartition, list[RawRecord]], per_fetch: int = 10, fetch_delay_s: float = 0.01
    ) -> None:
        self.logs = logs
        self.per_fetch = per_fetch
        self.fetch_delay_s = fetch_delay_s
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.committed_offsets: dict[TopicPartition, int] = {}
        self.commits = 0
        self.log_start: dict[TopicPartition, int] = {}
        self.fetch_errors: list[Exception] = []  # raised by the next getmany calls, in turn
        self.committed_hook: Callable[[TopicPartition], Awaitable[None]] | None = None
        self.commit_hook: Callable[[], Awaitable[None]] | None = None

    async def getmany(self, *_tps: TopicPartition, timeout_ms: int = 0, max_records: int = 0) -> Any:
        await asyncio.sleep(self.fetch_delay_s)
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        out = {}
        for tp, position in self.positions.items():
            if tp in self.paused:
                continue
            records = [r for r in self.logs.get(tp, []) if r.offset >= position][: self.per_fetch]
            if records:
                out[tp] = records
                self.positions[tp] = records[-1].offset + 1
        return out

    def highwater(self, tp: TopicPartition) -> int | None:
        log = self.logs.get(tp, [])
        return log[-1].offset + 1 if log else 0

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.highwater(tp)  # no transactions in these logs

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    async def committed(self, tp: TopicPartition) -> int | None:
        if self.committed_hook is not None:
            await self.committed_hook(tp)
        return self.committed_offsets.get(tp)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_hook is not None:
            await self.commit_hook()
        self.committed_offsets.update(offsets)
        self.commits += 1

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.log_start.get(tp, 0) for tp in tps}


class FaultyStore:
    """A LocalStore with hooks run before each get and put (they may raise or wait)."""

    def __init__(self, inner: LocalStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.before_get: Callable[[str], Awaitable[None]] | None = None
        self.before_put: Callable[[str, bytes], Awaitable[None]] | None = None
        self.checkpoints: list[Checkpoint] = []  # every checkpoint written, in order

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        if self.before_put is not None:
            await self.before_put(key, data)
        etag = await self.inner.put(key, data, if_match=if_match, if_none_match=if_none_match)
        if key.startswith(CHECKPOINTS + "/"):
            self.checkpoints.append(Checkpoint.from_bytes(data))
        return etag

    async def get(self, key: str) -> StoredObject | None:
        if self.before_get is not None:
            await self.before_get(key)
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()


async def registry_at(path: Path) -> tuple[LocalRegistry, Any]:
    registry = LocalRegistry(path)
    result = await sync_schemas(registry)
    return registry, result


def make_sink(
    consumer: LogConsumer, store: Any, registry: Any, executor: ThreadPoolExecutor, **options: Any
) -> BronzeSink:
    opts = SinkOptions(
        rules=CutRules(max_records=10, max_age_s=3600, idle_flush_s=0.2),
        commit=CommitOptions(),
        **options,
    )
    return BronzeSink(
        consumer=consumer, store=store, registry=registry, executor=executor, options=opts, owner="t"
    )


async def next_offset(store: Any, tp: TopicPartition = TP) -> int:
    return (await checkpoint.load(store, tp.topic, tp.partition, start_offset=0)).checkpoint.next_offset


async def run_until(sink: BronzeSink, done: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> bool:
    """Run the loop until `done()` holds (checked every 50 ms) or the time is up; then stop it."""
    stop = asyncio.Event()
    loop_task = asyncio.get_running_loop().create_task(sink.run(stop))
    deadline = time.monotonic() + timeout_s
    reached = False
    try:
        while time.monotonic() < deadline and not loop_task.done():
            if await done():
                reached = True
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(loop_task, 30)
    return reached


def assert_checkpoints_move_forward(written: list[Checkpoint]) -> None:
    """Each announced cut starts at the checkpoint before it; next_offset never goes back."""
    previous = 0
    for cp in written:
        if cp.pending is not None:
            assert cp.pending.start == previous <= cp.pending.end, (cp, previous)
        assert cp.next_offset >= previous, f"checkpoint went back from {previous} to {cp.next_offset}"
        previous = cp.next_offset
