"""`nexus replay --via grpc://HOST:PORT`: a dataset through an ingestion server.

The rows of each entity (in the replay order of keystone_nexus.replay.to_kafka) become Events
with the replay's stable event ids, sent in batches of `batch` events, one unary
Publish per batch or, with `stream`, PublishStream calls of up to `stream_events`
events each. The server checks every event; its per-event answers are counted and its
rejections reported with file, line and reason (and written to `rejects`). Rows that
cannot even be read are rejected here, as the direct replay does.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.events import replay_event_id
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient, PublishResult, record_event
from keystone_nexus.olist.reader import Row, RowError, dataset_plan, read
from keystone_nexus.replay.to_kafka import ReplayReport, ordered_entities

RETRIES = 5


@dataclass
class ViaReport(ReplayReport):
    """A replay's report, plus what the server accepted (sent = accepted + rejected)."""

    accepted: Counter[str] = field(default_factory=Counter)

    @property
    def total_accepted(self) -> int:
        return sum(self.accepted.values())


@dataclass
class _Sender:
    client: IngestClient
    report: ViaReport
    rejects: IO[bytes] | None
    bar: Any
    batch: int
    stream: bool
    stream_events: int

    def reject(self, spec: EntitySpec, error: RowError) -> None:
        self.report.rejected[spec.name] += 1
        if len(self.report.first_errors) < 20:
            self.report.first_errors.append(error)
        if self.rejects is not None:
            doc = {"entity": spec.name, "file": error.file, "line": error.line, "reason": error.reason}
            self.rejects.write(orjson.dumps({**doc, "raw": error.raw}) + b"\n")

    def send(
        self, spec: EntitySpec, file_name: str, rows: Sequence[Row], events: list[olist_pb2.Event]
    ) -> None:
        """One call (unary, or a stream of batches) for these rows; its answers counted."""
        done = 0
        while done < len(events):
            rest = events[done:]
            batches = [rest[i : i + self.batch] for i in range(0, len(rest), self.batch)]
            result = self._call(batches)
            if result.covered == 0 or result.covered > len(rest):
                raise IngestError(f"the server answered for {result.covered} of {len(rest)} events")
            self.report.sent[spec.name] += result.covered
            self.report.accepted[spec.name] += result.accepted
            for rejection in result.rejections():
                row = rows[done + rejection.index]
                raw = orjson.dumps(row.record).decode()
                self.reject(spec, RowError(file_name, row.line, rejection.reason, raw))
            self.bar.update(result.covered)
            done += result.covered  # a stream answered early: send the rest again

    def _call(self, batches: list[list[olist_pb2.Event]]) -> PublishResult:
        for attempt in range(RETRIES):
            try:
                if self.stream:
                    return self.client.publish_stream(batches)
                return self.client.publish(batches[0])
            except IngestError as exc:
                if not exc.retriable or attempt == RETRIES - 1:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def replay_via(
    directory: Path,
    client: IngestClient,
    *,
    batch: int = 500,
    stream: bool = False,
    stream_events: int = 100_000,
    entity_names: Sequence[str] | None = None,
    rejects: IO[bytes] | None = None,
    progress: bool = True,
    source: str = "olist-replay",
    limit: int | None = None,
) -> ViaReport:
    """Send every readable row of the dataset in `directory` through the server."""
    report = ViaReport()
    started = time.monotonic()
    per_call = max(batch, stream_events - stream_events % batch) if stream else batch
    plan = dataset_plan(directory, ordered_entities(entity_names))
    with tqdm(unit="ev", disable=not progress, unit_scale=True, mininterval=0.5) as bar:
        sender = _Sender(client, report, rejects, bar, batch, stream, per_call)
        for spec, path, fmt in plan:
            bar.set_description(spec.name)
            rows: list[Row] = []
            events: list[olist_pb2.Event] = []
            for item in _limited(read(path, spec, fmt, validate=False), limit):
                if isinstance(item, RowError):
                    sender.reject(spec, item)
                    continue
                event_id = replay_event_id(spec, path.name, item.line)
                try:
                    event = record_event(spec, item.record, event_id=event_id, source=source)
                except (TypeError, ValueError) as exc:
                    raw = orjson.dumps(item.record).decode()
                    sender.reject(spec, RowError(path.name, item.line, f"not an event: {exc}", raw))
                    continue
                rows.append(item)
                events.append(event)
                if len(events) >= per_call:
                    sender.send(spec, path.name, rows, events)
                    rows, events = [], []
            if events:
                sender.send(spec, path.name, rows, events)
    report.elapsed_s = time.monotonic() - started
    return report


def _limited(items: Iterator[Row | RowError], limit: int | None) -> Iterator[Row | RowError]:
    for count, item in enumerate(items):
        if limit is not None and count >= limit:
            return
        yield item
