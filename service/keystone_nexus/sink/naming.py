"""Where things live in the lake; pure functions of Kafka coordinates and record time.

    bronze/<entity>/dt=YYYY-MM-DD/hr=HH/<topic>+<partition>+<first offset:019d>.parquet
    dlq/<entity>/dt=YYYY-MM-DD/hr=HH/<topic>+<partition>+<first offset:019d>.parquet
    _checkpoints/<topic>/<partition>.json
    _gaps/<topic>/<partition>/<first>-<last>.json   offsets skipped out of range (out_of_range.py)

A name depends only on the records it holds, so writing the same batch again replaces
the object instead of adding a second copy (the Confluent S3 sink and Secor do the same).
"""

from __future__ import annotations

from datetime import UTC, datetime

BRONZE = "bronze"
DLQ = "dlq"
CHECKPOINTS = "_checkpoints"
GAPS = "_gaps"


def hour_partition(timestamp_ms: int) -> tuple[str, str]:
    """("YYYY-MM-DD", "HH") in UTC for a Kafka timestamp in milliseconds."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H")


def object_name(topic: str, partition: int, first_offset: int) -> str:
    return f"{topic}+{partition}+{first_offset:019d}.parquet"


def bronze_key(entity: str, topic: str, partition: int, first_offset: int, dt: str, hr: str) -> str:
    return f"{BRONZE}/{entity}/dt={dt}/hr={hr}/{object_name(topic, partition, first_offset)}"


def dlq_key(entity: str, topic: str, partition: int, first_offset: int, dt: str, hr: str) -> str:
    return f"{DLQ}/{entity}/dt={dt}/hr={hr}/{object_name(topic, partition, first_offset)}"


def checkpoint_key(topic: str, partition: int) -> str:
    return f"{CHECKPOINTS}/{topic}/{partition}.json"


def gap_key(topic: str, partition: int, first: int, last: int) -> str:
    return f"{GAPS}/{topic}/{partition}/{first}-{last}.json"


def batch_id(topic: str, partition: int, first_offset: int) -> str:
    """``<topic>/<partition>/<first offset>``: names a batch in the logs, the same for
    every try of it (a replay after a crash included), like its objects' names."""
    return f"{topic}/{partition}/{first_offset}"


def parse_object_name(name: str) -> tuple[str, int, int]:
    """(topic, partition, first offset) from an object name; ValueError if it is not one."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".parquet")
    topic, partition, offset = stem.rsplit("+", 2)
    return topic, int(partition), int(offset)
