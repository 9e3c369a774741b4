"""`nexus state rebuild`: nexus.batches rebuilt from the lake, the source of truth.

Per partition, from its checkpoint and the objects under `bronze/` and `dlq/` (their
`_offset` columns): objects whose offset ranges overlap belong to one batch, so they are
merged into runs; each run becomes a row (`source = rebuild`). The batch the checkpoint
names as its last is recorded exactly as it was. A batch's boundaries are not kept in
its objects, so one batch whose hours split it into disjoint offset ranges comes back as
several rows; the records per partition are the lake's, exactly, and rows recorded after
the rebuild never overlap these. The partitions rebuilt are replaced in one transaction.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.parquet as pq

from keystone_nexus.config import Settings
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.sink.checkpoint import Checkpoint
from keystone_nexus.sink.naming import BRONZE, CHECKPOINTS, DLQ, parse_object_name
from keystone_nexus.state.ledger import BatchRow, record_batches

__all__ = ["RebuildReport", "rebuild_ledger", "rows_of"]

Partition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    partitions: int
    rows: int
    records: int
    objects: int


@dataclass(frozen=True, slots=True)
class LakeObject:
    key: str
    first: int  # smallest `_offset`
    last: int  # largest
    rows: int
    size: int
    dead: bool  # under dlq/


async def lake_objects(store: ObjectStore, topic: str | None = None) -> dict[Partition, list[LakeObject]]:
    """Every bronze and dead-letter object of the lake (of `topic`), by partition."""
    found: dict[Partition, list[LakeObject]] = {}
    for prefix in (BRONZE, DLQ):
        for key in await store.list(f"{prefix}/"):
            if not key.endswith(".parquet"):
                continue
            name_topic, partition, _first = parse_object_name(key)
            if topic is not None and name_topic != topic:
                continue
            stored = await store.get(key)
            if stored is None:  # removed meanwhile
                continue
            offsets = pq.read_table(io.BytesIO(stored.data), columns=["_offset"]).column("_offset")
            if len(offsets) == 0:
                continue
            bounds = pc.min_max(offsets)
            found.setdefault((name_topic, partition), []).append(
                LakeObject(
                    key,
                    int(bounds["min"].as_py()),
                    int(bounds["max"].as_py()),
                    len(offsets),
                    len(stored.data),
                    prefix == DLQ,
                )
            )
    return found


def _runs(objects: Iterable[LakeObject]) -> list[list[LakeObject]]:
    """Objects merged into runs of overlapping offset ranges, in offset order."""
    runs: list[list[LakeObject]] = []
    last = -1
    for obj in sorted(objects, key=lambda o: (o.first, o.key)):
        if runs and obj.first <= last:
            runs[-1].append(obj)
            last = max(last, obj.last)
        else:
            runs.append([obj])
            last = obj.last
    return runs


def rows_of(
    partition: Partition, objects: list[LakeObject], kept: Checkpoint | None, now: float
) -> list[BatchRow]:
    """The ledger rows of one partition: one per run of objects, the checkpoint's last
    batch as it was recorded."""
    topic, number = partition
    exact = kept.last_batch if kept is not None else None
    rows = []
    if exact is not None:
        rows.append(
            BatchRow(
                topic,
                number,
                exact.start,
                exact.end,
                exact.valid,
                exact.dead,
                exact.skipped,
                exact.objects,
                kept.owner if kept is not None else "",
                exact.committed_at,
                "rebuild",
            )
        )
        objects = [o for o in objects if not exact.start <= o.first <= exact.end]
    for run in _runs(objects):
        rows.append(
            BatchRow(
                topic,
                number,
                min(o.first for o in run),
                max(o.last for o in run),
                sum(o.rows for o in run if not o.dead),
                sum(o.rows for o in run if o.dead),
                0,
                tuple((o.key, o.rows, o.size) for o in run),
                "",
                now,
                "rebuild",
            )
        )
    return sorted(rows, key=lambda r: r.first_offset)


async def _checkpoints(store: ObjectStore, topic: str | None) -> dict[Partition, Checkpoint]:
    found = {}
    for key in await store.list(f"{CHECKPOINTS}/"):
        if not key.endswith(".json") or "/_fence_probe/" in key:
            continue
        stored = await store.get(key)
        if stored is None:
            continue
        kept = Checkpoint.from_bytes(stored.data)
        if topic is None or kept.topic == topic:
            found[(kept.topic, kept.partition)] = kept
    return found


async def rebuild_ledger(settings: Settings, *, topic: str | None = None) -> RebuildReport:
    """Replace the ledger rows of every partition the lake holds (of `topic`) by the lake's."""
    from keystone_nexus.state.open import connector
    from keystone_nexus.wiring import open_lake

    store = await open_lake(settings)
    try:
        objects = await lake_objects(store, topic)
        kept = await _checkpoints(store, topic)
    finally:
        await store.close()
    now = time.time()
    partitions = sorted(set(objects) | set(kept))
    rows = [row for p in partitions for row in rows_of(p, objects.get(p, []), kept.get(p), now)]
    conn = await connector(settings)()
    try:
        async with conn.transaction():
            for name, number in partitions:
                await conn.execute(
                    "DELETE FROM nexus.batches WHERE topic = %s AND partition = %s", (name, number)
                )
            await record_batches(conn, rows)
    finally:
        await conn.close()
    return RebuildReport(
        partitions=len(partitions),
        rows=len(rows),
        records=sum(r.valid_records + r.dead_records for r in rows),
        objects=sum(len(v) for v in objects.values()),
    )
