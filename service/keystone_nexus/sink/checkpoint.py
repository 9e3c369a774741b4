"""The durable per-partition checkpoint in the lake, written with conditional puts.

    {"topic": ..., "partition": 3, "next_offset": 120000,
     "pending": {"start": 120000, "end": 139999, "objects": ["bronze/...", ...]} | null,
     "owner": "...", "generation": 17,
     "last_batch": {"start": 100000, "end": 119999, "valid": ..., "dead": ..., "skipped": ...,
                    "objects": [["bronze/...", rows, bytes], ...], "committed_at": ...} | null}

Everything below `next_offset` is in the lake. `pending` is a cut that was announced
before its objects were written, with the names of every object an attempt at it may
have written; whoever owns the partition next must repeat exactly that cut, and remove
the announced objects its own attempt does not rewrite (validity, and so the names, can
change between attempts: a new schema version, a deploy, a setting).

`last_batch` is what the batch that advanced `next_offset` wrote: the ledger
(state/ledger.py) records each batch after its checkpoint, and the next owner records the
last one again from here, so a crash between the two loses no ledger row.

Every write is conditional on the etag last read (If-Match) or on absence
(If-None-Match), so of two owners racing on a partition only one advances; the other
gets PreconditionFailedError and must stop writing (it is a zombie) or re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.sink.naming import checkpoint_key


@dataclass(frozen=True, slots=True)
class PendingCut:
    start: int
    end: int
    objects: tuple[str, ...] = ()  # every key an attempt at this cut may have written

    def same_cut(self, other: PendingCut) -> bool:
        return (self.start, self.end) == (other.start, other.end)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The batch that advanced a checkpoint: its offsets, counts and objects."""

    start: int
    end: int
    valid: int
    dead: int
    skipped: int
    objects: tuple[tuple[str, int, int], ...]  # (key, rows, bytes)
    committed_at: float  # seconds since the epoch

    def to_doc(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "valid": self.valid,
            "dead": self.dead,
            "skipped": self.skipped,
            "objects": [list(o) for o in self.objects],
            "committed_at": self.committed_at,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> BatchSummary:
        objects = doc.get("objects") or []
        return cls(
            start=int(doc["start"]),
            end=int(doc["end"]),
            valid=int(doc.get("valid", 0)),
            dead=int(doc.get("dead", 0)),
            skipped=int(doc.get("skipped", 0)),
            objects=tuple((str(k), int(r), int(b)) for k, r, b in objects),
            committed_at=float(doc.get("committed_at", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    topic: str
    partition: int
    next_offset: int
    pending: PendingCut | None = None
    owner: str = ""
    generation: int = 0
    last_batch: BatchSummary | None = None

    def to_bytes(self) -> bytes:
        doc = {
            "topic": self.topic,
            "partition": self.partition,
            "next_offset": self.next_offset,
            "pending": None
            if self.pending is None
            else {
                "start": self.pending.start,
                "end": self.pending.end,
                "objects": list(self.pending.objects),
            },
            "owner": self.owner,
            "generation": self.generation,
            "last_batch": None if self.last_batch is None else self.last_batch.to_doc(),
        }
        return orjson.dumps(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        doc = orjson.loads(data)
        pending = doc.get("pending")
        return cls(
            topic=doc["topic"],
            partition=int(doc["partition"]),
            next_offset=int(doc["next_offset"]),
            pending=None
            if pending is None
            else PendingCut(
                int(pending["start"]), int(pending["end"]), tuple(map(str, pending.get("objects", ())))
            ),
            owner=str(doc.get("owner", "")),
            generation=int(doc.get("generation", 0)),
            last_batch=None if doc.get("last_batch") is None else BatchSummary.from_doc(doc["last_batch"]),
        )


@dataclass(frozen=True, slots=True)
class Versioned:
    """A checkpoint and the etag it was read or written with (None: not in the lake yet)."""

    checkpoint: Checkpoint
    etag: str | None


async def load(store: ObjectStore, topic: str, partition: int, *, start_offset: int) -> Versioned:
    """The partition's checkpoint, or a fresh one at `start_offset` when there is none."""
    found = await store.get(checkpoint_key(topic, partition))
    if found is None:
        return Versioned(Checkpoint(topic, partition, start_offset), None)
    return Versioned(Checkpoint.from_bytes(found.data), found.etag)


async def save(store: ObjectStore, current: Versioned, new: Checkpoint) -> Versioned:
    """Write `new` only if the lake still holds `current`; raises PreconditionFailedError otherwise."""
    new = replace(new, generation=current.checkpoint.generation + 1)
    key = checkpoint_key(new.topic, new.partition)
    if current.etag is None:
        etag = await store.put(key, new.to_bytes(), if_none_match=True)
    else:
        etag = await store.put(key, new.to_bytes(), if_match=current.etag)
    return Versioned(new, etag)
