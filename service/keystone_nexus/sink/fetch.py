"""Lean fetched records: the sink's consumer gets aiokafka's parsed records as they are.

aiokafka parses each record of a fetched batch (in C) and then wraps it in a
`ConsumerRecord`: eleven fields set in Python, the headers copied into a tuple, the
key and value sizes measured. The sink reads four of those fields (offset, timestamp,
key, value; the parsed record has them, and its headers), and that wrapping alone cost
about a seventh of the sink's CPU on the consume loop, the part that cannot run on
another core.

A consumer opts in by passing `RAW_RECORDS` as its value deserializer; any other
consumer in the process gets `ConsumerRecord`s as before. The hook replaces aiokafka's
`PartitionRecords._consumer_record` (private, stable since aiokafka 0.8); if a release
renames it, `install()` leaves aiokafka alone and the sink falls back to ConsumerRecords,
which it reads the same way. tests/integration/test_sink_fetch.py pins the behaviour.
"""

from __future__ import annotations

import inspect
from typing import Any

from aiokafka.consumer import fetcher

__all__ = ["RAW_RECORDS", "install"]


class _RawRecords:
    """The marker deserializer: values pass unchanged (and, hooked, records too)."""

    def __call__(self, value: bytes | None) -> bytes | None:
        return value

    def __repr__(self) -> str:
        return "RAW_RECORDS"


RAW_RECORDS = _RawRecords()
_HOOKED = "_keystone_lean"


def install() -> bool:
    """Hook aiokafka once per process; True when consumers using RAW_RECORDS get lean records."""
    records_class: Any = fetcher.PartitionRecords
    original = getattr(records_class, "_consumer_record", None)
    if original is None:
        return False
    if getattr(original, _HOOKED, False):
        return True
    if list(inspect.signature(original).parameters) != ["self", "tp", "record"]:
        return False

    def consumer_record(self: Any, tp: Any, record: Any) -> Any:
        if self._value_deserializer is RAW_RECORDS:
            return record
        return original(self, tp, record)

    setattr(consumer_record, _HOOKED, True)
    records_class._consumer_record = consumer_record
    return True
