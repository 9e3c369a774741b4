"""Olist records as Kafka events: topic, key, Glue-framed JSON value, headers.

Pure functions, shared by the replay tool and the ingestion servers, so every path
into Kafka writes the same bytes for the same record.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import orjson
from numpy.typing import NDArray

from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.md5_batch import md5_numbered

_EVENT_NAMESPACE = str(uuid.UUID("9a3c1d52-7e0b-5f64-8b1a-2c4d6e8f0a13"))

HEADER_EVENT_ID = "event_id"
HEADER_SOURCE = "source"
HEADER_ENTITY = "entity"


@dataclass(frozen=True, slots=True)
class KafkaEvent:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def record_key(entity: EntitySpec, record: dict[str, Any]) -> bytes:
    """The Kafka key: the entity id (its key fields joined with '|')."""
    return "|".join(str(record[f]) for f in entity.key_fields).encode()


def replay_event_id(entity: EntitySpec, source_file: str, line: int) -> str:
    """A stable event id for a dataset row, so replaying a file twice is recognisable.

    UUID-shaped (an MD5 of the row's origin); built without uuid.UUID, which costs more
    than the rest of the event at a million rows.
    """
    h = hashlib.md5(f"{_EVENT_NAMESPACE}/{entity.name}/{source_file}/{line}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Each byte's two hex digits, as one little-endian uint16 (so digests index it directly).
_HEX_PAIRS = np.array([ord(f"{b:02x}"[0]) | ord(f"{b:02x}"[1]) << 8 for b in range(256)], dtype="<u2")
# (digits, at) runs of the id's 8-4-4-4-12 hex digits: where they start in the digest's 32.
_ID_RUNS = ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12))


def replay_event_ids(entity: EntitySpec, source_file: str, lines: NDArray[np.int64]) -> NDArray[np.uint8]:
    """replay_event_id of many lines of one file at once: (len(lines), 36) ASCII bytes."""
    digests = md5_numbered(f"{_EVENT_NAMESPACE}/{entity.name}/{source_file}/".encode(), lines)
    digits = _HEX_PAIRS[digests].view(np.uint8)  # (rows, 32)
    ids = np.full((len(digests), 36), ord("-"), dtype=np.uint8)
    for first, at, count in _ID_RUNS:
        ids[:, at : at + count] = digits[:, first : first + count]
    return ids


def to_event(
    entity: EntitySpec,
    record: dict[str, Any],
    schema_version_id: UUID,
    *,
    event_id: str,
    source: str,
    compression: int = wire.COMPRESSION_NONE,
) -> KafkaEvent:
    return framed_event(
        entity,
        record,
        orjson.dumps(record),
        schema_version_id,
        event_id=event_id,
        source=source,
        compression=compression,
    )


def framed_event(
    entity: EntitySpec,
    record: dict[str, Any],
    payload: bytes,
    schema_version_id: UUID,
    *,
    event_id: str,
    source: str,
    compression: int = wire.COMPRESSION_NONE,
) -> KafkaEvent:
    """Like to_event, for a record whose JSON payload is already encoded."""
    return KafkaEvent(
        topic=entity.topic,
        key=record_key(entity, record),
        value=wire.encode(payload, schema_version_id, compression=compression),
        headers=(
            (HEADER_EVENT_ID, event_id.encode()),
            (HEADER_SOURCE, source.encode()),
            (HEADER_ENTITY, entity.name.encode()),
        ),
    )
