"""The shape of a Kafka record as the lake's readers use it: the sink's consumer, the
range reader of reprocess, the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Record(Protocol):
    """What the sink needs of a Kafka record; aiokafka's ConsumerRecord has it as is."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # milliseconds
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record built by hand (tests, replays); the consume loop buffers aiokafka's own."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
