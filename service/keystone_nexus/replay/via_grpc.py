"""`nexus replay --via grpc://HOST:PORT`: a dataset through an ingestion server.

The rows of each entity (in the replay order of keystone_nexus.replay.to_kafka) become
Events with the replay's stable event ids (replay.event_blocks: the CSVs read and
encoded a column at a time), sent in batches of `batch` events, one unary Publish per
batch or, with `stream`, PublishStream calls of up to `stream_events` events each. The
server checks every event; its per-event answers are counted and its rejections
reported with file, line and reason (and written to `rejects`). Rows that cannot even
be read are rejected here, as the direct replay does.

Calls in flight. Up to `in_flight` calls are open at once, started in file order, while
the next block is encoded: one call's tail (the server waits for Kafka's delivery
reports before it answers) overlaps the next one's sending. Measured on 2 cores with the
C++ server (bench.ingest): streams take ~170k events/s with 2 open (1: ~130k, 3: no
more than 2); unary calls of 500 events are bound by that wait, best with 8 open
(~120k; 2: ~70k, 16: less again) -- `nexus replay --via` opens 2 with --stream, else 8. So the events of two
neighbouring calls may reach Kafka interleaved; within a call they keep file order.
Answers are taken oldest first; a call the server answered early, or refused with a
retriable status, is sent again (its rest) before the next answer is taken. Memory is
bounded by `in_flight` calls and one block.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient, PendingPublish, PublishResult
from keystone_nexus.olist.reader import RowError, dataset_plan
from keystone_nexus.replay.event_blocks import EventBlock, event_blocks
from keystone_nexus.replay.to_kafka import ReplayReport, ordered_entities

RETRIES = 5
BLOCK_ROWS = 100_000  # rows encoded at a time (a stream call takes up to one block)


@dataclass
class ViaReport(ReplayReport):
    """A replay's report, plus what the server accepted (sent = accepted + rejected)."""

    accepted: Counter[str] = field(default_factory=Counter)

    @property
    def total_accepted(self) -> int:
        return sum(self.accepted.values())


@dataclass(frozen=True)
class _Call:
    """Events start..stop of a block, as one Publish or one PublishStream."""

    block: EventBlock
    start: int
    stop: int


@dataclass
class _Sender:
    client: IngestClient
    report: ViaReport
    rejects: IO[bytes] | None
    bar: Any
    batch: int
    stream: bool
    in_flight: int
    pending: deque[tuple[_Call, PendingPublish]] = field(default_factory=deque)

    def reject(self, spec: EntitySpec, error: RowError) -> None:
        self.report.rejected[spec.name] += 1
        if len(self.report.first_errors) < 20:
            self.report.first_errors.append(error)
        if self.rejects is not None:
            doc = {"entity": spec.name, "file": error.file, "line": error.line, "reason": error.reason}
            self.rejects.write(orjson.dumps({**doc, "raw": error.raw}) + b"\n")

    def send(self, call: _Call) -> None:
        """Start the call once fewer than `in_flight` are open (oldest answers first)."""
        while len(self.pending) >= self.in_flight:
            self._finish(*self.pending.popleft())
        self.pending.append((call, self._start(call)))

    def drain(self) -> None:
        while self.pending:
            self._finish(*self.pending.popleft())

    def cancel(self) -> None:
        while self.pending:
            self.pending.popleft()[1].cancel()

    def _start(self, call: _Call) -> PendingPublish:
        if not self.stream:
            return self.client.start_publish(call.block.body(call.start, call.stop))
        bodies = [
            call.block.body(s, min(s + self.batch, call.stop))
            for s in range(call.start, call.stop, self.batch)
        ]
        return self.client.start_publish_stream(bodies)

    def _finish(self, call: _Call, pending: PendingPublish) -> None:
        """Count the call's answer; send again what it did not cover."""
        while True:
            result = self._answer(call, pending)
            size = call.stop - call.start
            if result.covered == 0 or result.covered > size:
                raise IngestError(f"the server answered for {result.covered} of {size} events")
            self._count(call, result)
            if result.covered == size:
                return
            call = _Call(call.block, call.start + result.covered, call.stop)  # answered early
            pending = self._start(call)

    def _answer(self, call: _Call, pending: PendingPublish) -> PublishResult:
        for attempt in range(RETRIES):
            try:
                return pending.result()
            except IngestError as exc:
                if not exc.retriable or attempt == RETRIES - 1:
                    raise
                time.sleep(0.2 * 2**attempt)
                pending = self._start(call)
        raise AssertionError("unreachable")

    def _count(self, call: _Call, result: PublishResult) -> None:
        block = call.block
        name = block.entity.name
        self.report.sent[name] += result.covered
        self.report.accepted[name] += result.accepted
        for rejection in result.rejections():
            row = call.start + rejection.index
            raw = orjson.dumps(block.record_of(row)).decode()
            self.reject(block.entity, RowError(block.file, int(block.lines[row]), rejection.reason, raw))
        self.bar.update(result.covered)


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
    in_flight: int = 2,
) -> ViaReport:
    """Send every readable row of the dataset in `directory` through the server."""
    if in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, not {in_flight}")
    report = ViaReport()
    started = time.monotonic()
    per_call = max(batch, stream_events - stream_events % batch) if stream else batch
    plan = dataset_plan(directory, ordered_entities(entity_names))
    with tqdm(unit="ev", disable=not progress, unit_scale=True, mininterval=0.5) as bar:
        sender = _Sender(client, report, rejects, bar, batch, stream, in_flight)
        try:
            for spec, path, fmt in plan:
                bar.set_description(spec.name)
                block_rows = max(per_call, BLOCK_ROWS - BLOCK_ROWS % per_call)
                for item in event_blocks(path, spec, fmt, source=source, limit=limit, block_rows=block_rows):
                    if isinstance(item, RowError):
                        sender.reject(spec, item)
                        continue
                    for start in range(0, len(item), per_call):
                        sender.send(_Call(item, start, min(start + per_call, len(item))))
            sender.drain()
        finally:
            sender.cancel()  # after a failure: the calls still open are not waited for
    report.elapsed_s = time.monotonic() - started
    return report
