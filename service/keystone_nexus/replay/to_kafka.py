"""`nexus replay`: a dataset (generated or the real Kaggle CSVs) into Kafka.

One topic per entity, JSON payloads behind the Glue header, keyed by entity id.
Rows that cannot be read or fail their schema are reported with file and line,
counted, and written to the rejects file; none is dropped without a word.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from uuid import UUID

import orjson

from keystone_nexus.contracts.entities import EntitySpec, UnknownEntityError, entities
from keystone_nexus.contracts.events import KafkaEvent, framed_event, replay_event_id
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.contracts.validate_batch import validate_batch
from keystone_nexus.olist.reader import Row, RowError, dataset_plan, read
from keystone_nexus.ops.progress import bar as progress_bar
from keystone_nexus.ops.progress import estimated_rows

# Reference data first, then the facts that point at it.
REPLAY_ORDER = (
    "category_translation",
    "geolocation",
    "customers",
    "sellers",
    "products",
    "orders",
    "order_items",
    "payments",
    "reviews",
)


class Sink(Protocol):
    def send(self, event: KafkaEvent) -> None: ...


@dataclass
class ReplayReport:
    sent: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    first_errors: list[RowError] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())


class RateLimiter:
    """Holds a producer to `rate` events per second on average (None: unlimited)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._start = time.monotonic()
        self._count = 0

    def tick(self) -> None:
        if not self.rate:
            return
        self._count += 1
        ahead = self._start + self._count / self.rate - time.monotonic()
        if ahead > 0.005:
            time.sleep(ahead)


def ordered_entities(names: Sequence[str] | None = None) -> list[EntitySpec]:
    by_name = {e.name: e for e in entities()}
    chosen = list(names) if names else list(REPLAY_ORDER)
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise UnknownEntityError(f"unknown entities {unknown}; known: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in chosen]


@dataclass
class _Replayer:
    """Sends one dataset; holds what every entity's pass shares."""

    sink: Sink
    report: ReplayReport
    limiter: RateLimiter
    rejects: IO[bytes] | None
    bar: Any
    source: str

    def reject(self, spec: EntitySpec, error: RowError) -> None:
        self.report.rejected[spec.name] += 1
        if len(self.report.first_errors) < 20:
            self.report.first_errors.append(error)
        if self.rejects is not None:
            self.rejects.write(orjson.dumps(_reject_doc(spec, error)) + b"\n")

    def send_chunk(self, spec: EntitySpec, file_name: str, version: UUID, chunk: list[Row]) -> None:
        """Validate a chunk in bulk with the sink's validator; send the valid rows in order."""
        payloads = [orjson.dumps(row.record) for row in chunk]
        result = validate_batch(entity_definition(spec), payloads)
        for index, reason in result.invalid:
            self.reject(spec, RowError(file_name, chunk[index].line, reason, payloads[index].decode()))
        for index in result.valid.tolist():
            row = chunk[index]
            event_id = replay_event_id(spec, file_name, row.line)
            self.sink.send(
                framed_event(
                    spec, row.record, payloads[index], version, event_id=event_id, source=self.source
                )
            )
            self.limiter.tick()
        self.report.sent[spec.name] += len(result.valid)
        self.bar.update(len(result.valid))


def replay(
    directory: Path,
    sink: Sink,
    versions: dict[str, UUID],
    *,
    entity_names: Sequence[str] | None = None,
    rate: float | None = None,
    rejects: IO[bytes] | None = None,
    progress: bool = True,
    source: str = "olist-replay",
    limit: int | None = None,
    chunk_rows: int = 5_000,
) -> ReplayReport:
    """Send every valid row of the dataset in `directory`; report the rest.

    Rows are parsed one by one (so an error names its line) and validated in chunks
    with the sink's vectorized validator: the replay checks exactly what the sink will.
    """
    report = ReplayReport()
    started = time.monotonic()
    plan = dataset_plan(directory, ordered_entities(entity_names))
    run = _Replayer(sink, report, RateLimiter(rate), rejects, None, source)
    for spec, path, fmt in plan:
        total = estimated_rows(path) if progress else None
        with progress_bar(spec.name, unit="ev", total=total, enabled=progress) as run.bar:
            version = versions[spec.schema_name]
            chunk: list[Row] = []
            for item in _limited(read(path, spec, fmt, validate=False), limit):
                if isinstance(item, RowError):
                    run.reject(spec, item)
                    continue
                chunk.append(item)
                if len(chunk) >= chunk_rows:
                    run.send_chunk(spec, path.name, version, chunk)
                    chunk = []
            if chunk:
                run.send_chunk(spec, path.name, version, chunk)
    report.elapsed_s = time.monotonic() - started
    return report


def _limited(items: Iterable[Row | RowError], limit: int | None) -> Iterable[Row | RowError]:
    if limit is None:
        yield from items
        return
    for count, item in enumerate(items):
        if count >= limit:
            return
        yield item


def _reject_doc(spec: EntitySpec, error: RowError) -> dict[str, object]:
    return {
        "entity": spec.name,
        "file": error.file,
        "line": error.line,
        "reason": error.reason,
        "raw": error.raw,
    }
