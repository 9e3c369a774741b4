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
from typing import IO, Protocol
from uuid import UUID

import orjson
from tqdm import tqdm

from keystone_nexus.contracts import EntitySpec, entities
from keystone_nexus.events import KafkaEvent, replay_event_id, to_event
from keystone_nexus.olist.reader import Row, RowError, dataset_file, read

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
        raise ValueError(f"unknown entities {unknown}; known: {sorted(by_name)}")
    return [by_name[n] for n in chosen]


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
) -> ReplayReport:
    """Send every valid row of the dataset in `directory`; report the rest."""
    report = ReplayReport()
    limiter = RateLimiter(rate)
    started = time.monotonic()
    plan = [(spec, *dataset_file(directory, spec)) for spec in ordered_entities(entity_names)]
    with tqdm(unit="ev", disable=not progress, unit_scale=True, mininterval=0.5) as bar:
        for spec, path, fmt in plan:
            bar.set_description(spec.name)
            version = versions[spec.schema_name]
            for item in _limited(read(path, spec, fmt), limit):
                if isinstance(item, RowError):
                    report.rejected[spec.name] += 1
                    if len(report.first_errors) < 20:
                        report.first_errors.append(item)
                    if rejects is not None:
                        rejects.write(orjson.dumps(_reject_doc(spec, item)) + b"\n")
                    continue
                event = to_event(
                    spec,
                    item.record,
                    version,
                    event_id=replay_event_id(spec, path.name, item.line),
                    source=source,
                )
                sink.send(event)
                report.sent[spec.name] += 1
                bar.update(1)
                limiter.tick()
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
