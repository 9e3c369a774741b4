"""The bronze sink's consume loop: fetch, buffer, cut, commit, and react to rebalances.

Partitions are the unit of parallelism: each assigned partition has its own buffer,
its own PartitionCommitter and at most one batch in flight. More instances in the
same consumer group share the partitions; the lake checkpoint decides where each
partition resumes, whoever owned it before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError, NoOffsetForPartitionError, OffsetOutOfRangeError

from keystone_nexus.contracts.entities import UnknownEntityError, entity_for_topic
from keystone_nexus.errors import PreconditionFailedError
from keystone_nexus.kafka import fetch
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.ops.metrics import PartitionLag, SinkMetrics
from keystone_nexus.registry.base import SchemaRegistry
from keystone_nexus.sink import checkpoint, naming, status
from keystone_nexus.sink.batcher import CutReason, PartitionBuffer, Record
from keystone_nexus.sink.checkpoint import BatchSummary
from keystone_nexus.sink.commit import BatchOutcome, CrashInjector, PartitionCommitter
from keystone_nexus.sink.dead_letter import DeadLetterSink
from keystone_nexus.sink.glue_catalog import NoCatalog, TableCatalog
from keystone_nexus.sink.out_of_range import OutOfRange, Side, classify, record_gap
from keystone_nexus.sink.state import PartitionState, SetupRetry, SinkOptions, SinkTotals

__all__ = ["BronzeSink", "PartitionState", "Rebalance", "SetupRetry", "SinkOptions", "SinkTotals"]

log = logging.getLogger("keystone_nexus.sink")

RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

# Records a batch in the pipeline ledger (state/ledger.py), never blocking: the topic,
# partition, the batch as its checkpoint holds it, the batch's owner, and the source:
# "sink" after its commit, "checkpoint" when the next owner records it again at assignment.
BatchRecorder = Callable[[str, int, BatchSummary, str, str], None]


@dataclass
class BronzeSink:
    consumer: AIOKafkaConsumer
    store: ObjectStore
    registry: SchemaRegistry
    executor: Executor
    options: SinkOptions
    owner: str
    crash: CrashInjector = field(default_factory=lambda: CrashInjector(None))
    catalog: TableCatalog = field(default_factory=NoCatalog)
    dead_letter: DeadLetterSink | None = None
    metrics: SinkMetrics = field(default_factory=SinkMetrics)
    notify: Callable[[str], None] = lambda _message: None
    last_loop: float = field(default_factory=time.monotonic)
    on_batch: Callable[[TopicPartition, BatchOutcome], None] | None = None
    ledger: BatchRecorder | None = None
    parts: dict[TopicPartition, PartitionState] = field(default_factory=dict)
    # Assigned partitions whose setup failed: paused, retried from the loop.
    waiting: dict[TopicPartition, SetupRetry] = field(default_factory=dict)
    totals: SinkTotals = field(default_factory=SinkTotals)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    # -- rebalances -------------------------------------------------------------

    async def assign(self, assigned: set[TopicPartition]) -> None:
        """Set each new partition up (committed offset, checkpoint, seek). A setup that
        fails must not leave the partition assigned but unowned (aiokafka swallows what
        the listener raises, and would fetch the partition for nobody): it is paused and
        its setup retried from the loop, with backoff, until it succeeds or is revoked."""
        self.totals.rebalances += 1
        self.metrics.rebalances.inc()
        for tp in assigned:
            if tp in self.parts or tp in self.waiting:
                continue
            try:
                entity_for_topic(tp.topic)
            except UnknownEntityError:
                log.warning("no contract for topic; partition paused", extra={"topic": tp.topic})
                self.consumer.pause(tp)
                continue
            try:
                state = await self._setup(tp)
            except Exception as exc:
                self._setup_failed(tp, SetupRetry(), exc)
                continue
            self._own(tp, state)

    async def _setup(self, tp: TopicPartition) -> PartitionState:
        """Read where the partition resumes: the lake checkpoint (or the committed offset
        for a partition the lake has never seen). Every await is bounded."""
        bound = self.options.setup_timeout_s
        committed = await asyncio.wait_for(self.consumer.committed(tp), bound)
        state = await asyncio.wait_for(
            checkpoint.load(self.store, tp.topic, tp.partition, start_offset=committed or 0), bound
        )
        committer = PartitionCommitter(
            store=self.store,
            registry=self.registry,
            entity=entity_for_topic(tp.topic),
            topic=tp.topic,
            partition=tp.partition,
            state=state,
            executor=self.executor,
            options=self.options.commit,
            owner=self.owner,
            crash=self.crash,
            catalog=self.catalog,
            dead_letter=self.dead_letter,
        )
        pending = state.checkpoint.pending
        buffer = PartitionBuffer(
            origin=state.checkpoint.next_offset, forced_end=pending.end if pending else None
        )
        starts = await asyncio.wait_for(self.consumer.beginning_offsets([tp]), bound)
        return PartitionState(committer, buffer, log_start=starts.get(tp, 0))

    def _own(self, tp: TopicPartition, state: PartitionState) -> None:
        """Start consuming a set-up partition at its checkpoint."""
        checkpointed = state.committer.state.checkpoint
        self.consumer.seek(tp, checkpointed.next_offset)
        self.consumer.resume(tp)  # paused while its setup was retried
        self.parts[tp] = state
        pending = checkpointed.pending
        log.info(
            "partition assigned",
            extra={
                "topic": tp.topic,
                "partition": tp.partition,
                "next_offset": checkpointed.next_offset,
                "pending": None if pending is None else [pending.start, pending.end],
            },
        )
        if self.ledger is not None and checkpointed.last_batch is not None:
            # A crash between its checkpoint and its ledger row must not lose the row.
            self.ledger(tp.topic, tp.partition, checkpointed.last_batch, checkpointed.owner, "checkpoint")
        if classify(checkpointed.next_offset, state.log_start, None) is not None:
            self._out_of_range(tp, state, Side.BELOW_START, checkpointed.next_offset)

    def _setup_failed(self, tp: TopicPartition, retry: SetupRetry, error: BaseException) -> None:
        retry.attempts += 1
        delay = RETRY_BACKOFF_S[min(retry.attempts, len(RETRY_BACKOFF_S)) - 1]
        retry.retry_at, retry.error, retry.task = time.monotonic() + delay, repr(error), None
        self.waiting[tp] = retry
        self.consumer.pause(tp)
        self.metrics.partition_setup_failures.labels(tp.topic).inc()
        log.warning(
            "partition setup failed; paused, retried from the loop",
            extra={
                "topic": tp.topic,
                "partition": tp.partition,
                "attempts": retry.attempts,
                "error": retry.error,
                "retry_in_s": delay,
            },
        )

    def _retry_setups(self, now: float) -> None:
        """Start the setups that are due; own the partitions whose setup succeeded."""
        for tp, retry in list(self.waiting.items()):
            task = retry.task
            if task is None:
                if now >= retry.retry_at:
                    retry.task = asyncio.get_running_loop().create_task(self._setup(tp))
                continue
            if not task.done():
                continue
            error = asyncio.CancelledError() if task.cancelled() else task.exception()
            if error is not None:
                self._setup_failed(tp, retry, error)
                continue
            del self.waiting[tp]
            self._own(tp, task.result())

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        """Let in-flight batches finish (bounded), then forget the partitions' buffers."""
        tasks = [s.task for tp in revoked if (s := self.parts.get(tp)) and s.task and not s.task.done()]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=self.options.drain_timeout_s)
            for task in late:
                task.cancel()
        for tp in revoked:
            retry = self.waiting.pop(tp, None)
            if retry is not None and retry.task is not None:
                retry.task.cancel()
            state = self.parts.pop(tp, None)
            if state is not None:
                log.info("partition revoked", extra={"topic": tp.topic, "partition": tp.partition})

    # -- the loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, until_idle_s: float | None = None) -> None:
        """Consume until `stop` is set or, with `until_idle_s`, until partitions are
        assigned and nothing arrived, waited or was written for that long."""
        last_activity = time.monotonic()
        while not stop.is_set():
            try:
                batches = await self.consumer.getmany(
                    timeout_ms=200, max_records=self.options.fetch_max_records
                )
            except OffsetOutOfRangeError as exc:  # auto_offset_reset is "none": the sink decides
                batches = {}
                await self._fetch_out_of_range(exc)
            except NoOffsetForPartitionError:  # a partition waiting for its setup (not yet sought)
                batches = {}
            now = time.monotonic()
            self.last_loop = now
            self.notify("WATCHDOG=1")
            for tp, records in batches.items():
                self.metrics.records_consumed.labels(tp.topic).inc(len(records))
            busy = bool(self.waiting) or any(
                s.buffer.records or s.task is not None for s in self.parts.values()
            )
            if batches or busy or not self.parts:
                last_activity = now
            elif until_idle_s is not None and now - last_activity >= until_idle_s:
                log.info("idle: every assigned partition is written out", extra={"idle_s": until_idle_s})
                break
            for tp, records in batches.items():
                state = self.parts.get(tp)
                if state is None:
                    continue
                state.buffer.extend(records, now, floor=state.committer.next_offset)
                state.beyond_end_since = None  # the fetch reads: no longer out of range
            self._check_log_end()
            self._retry_setups(now)
            self._settle(now)
            self._schedule(now, pressure=self._buffered() > self.options.memory_budget_bytes)
            self._backpressure()
        await self.drain()

    def _buffered(self) -> int:
        return sum(s.buffer.size + s.inflight_bytes for s in self.parts.values())

    def _settle(self, now: float) -> None:
        """Collect finished batches; a failed one sends its partition back to its checkpoint."""
        for tp, state in self.parts.items():
            task = state.task
            if task is None or not task.done():
                continue
            state.task, state.inflight_bytes = None, 0
            state.inflight_oldest_ms = None
            error = None if task.cancelled() else task.exception()
            if task.cancelled() or error is not None:
                self.totals.failures += 1
                self.metrics.batch_failures.labels(tp.topic).inc()
                state.failures += 1
                delay = RETRY_BACKOFF_S[min(state.failures, len(RETRY_BACKOFF_S)) - 1]
                state.retry_at = now + delay
                log.warning(
                    "batch failed; partition rewinds to its checkpoint",
                    extra={
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "batch_id": state.batch_id,
                        "duration_s": round(now - state.batch_started, 3),
                        "error": repr(error),
                        "retry_in_s": delay,
                    },
                )
                state.buffer.clear()  # and its origin: what is fetched now is not buffered
                state.rewinding = True
                rewind = asyncio.get_running_loop().create_task(self._rewind(tp, state))
                self._background.add(rewind)
                rewind.add_done_callback(self._background.discard)
            else:
                state.failures = 0

    async def _rewind(self, tp: TopicPartition, state: PartitionState) -> None:
        """Reload the checkpoint from the lake (another owner may have advanced it) and seek.
        Until the seek, the partition stays blocked: records fetched from where the failed
        batch left the consumer would start a batch that is not the checkpoint's next one."""
        try:
            fresh = await checkpoint.load(
                self.store, tp.topic, tp.partition, start_offset=state.committer.next_offset
            )
        except Exception as exc:  # the store is still down: retry on the next failure cycle
            log.warning("checkpoint reload failed", extra={"topic": tp.topic, "error": repr(exc)})
            fresh = state.committer.state
        state.committer.state = fresh
        pending = fresh.checkpoint.pending
        if tp in self.parts and self.parts[tp] is state:
            try:
                self.consumer.seek(tp, fresh.checkpoint.next_offset)
            except (KafkaError, AssertionError, ValueError) as exc:  # being revoked: stays blocked
                log.warning("rewind seek failed", extra={"topic": tp.topic, "error": repr(exc)})
                return
            state.buffer.reset(fresh.checkpoint.next_offset, pending.end if pending else None)
            state.rewinding = False

    def _schedule(self, now: float, *, pressure: bool, shutdown: bool = False) -> None:
        for tp, state in self.parts.items():
            if state.task is not None or state.rewinding or state.out_of_range or now < state.retry_at:
                continue
            position, readable = self._readable(tp)
            reason = state.buffer.due(self.options.rules, now, position=position, high_water=readable)
            if reason is None and state.buffer.records and state.buffer.forced_end is None:
                if shutdown:
                    reason = CutReason.SHUTDOWN
                elif pressure:
                    reason = CutReason.PRESSURE
            if reason is not None:
                forced = state.buffer.forced_end
                batch = state.buffer.cut(self.options.rules)
                end = forced if forced is not None else batch[-1].offset
                emptied = forced is None and not state.buffer.records
                if emptied and position is not None and position - 1 > end:
                    end = position - 1  # and what the fetch skipped after it: markers, aborts
                    state.buffer.skipped_to(position)
                read_from = state.buffer.last_cut_from
            else:  # nothing buffered: has the fetch moved past markers only?
                skipped = state.buffer.skipped_end(self.options.rules, now, position, readable)
                if skipped is None or state.buffer.origin is None:
                    continue
                reason, batch, end, read_from = CutReason.SKIPPED, [], skipped, state.buffer.origin
                state.buffer.skipped_to(skipped + 1)
                state.buffer.last_cut_size = 0
            state.inflight_bytes = state.buffer.last_cut_size
            state.inflight_oldest_ms = min(map(attrgetter("timestamp"), batch), default=None)
            state.batch_id = naming.batch_id(tp.topic, tp.partition, state.committer.next_offset)
            state.batch_started = now
            state.task = asyncio.get_running_loop().create_task(
                self._flush(tp, state, batch, end, reason, read_from)
            )

    async def _flush(
        self,
        tp: TopicPartition,
        state: PartitionState,
        batch: list[Record],
        end: int,
        reason: CutReason,
        read_from: int,
    ) -> BatchOutcome:
        outcome = await state.committer.commit(batch, end, read_from=read_from)
        if self.ledger is not None and (summary := state.committer.state.checkpoint.last_batch):
            self.ledger(tp.topic, tp.partition, summary, self.owner, "sink")
        try:  # a hint for lag and tooling: bounded, it must never hold the partition up
            await asyncio.wait_for(
                self.consumer.commit({tp: outcome.next_offset}), self.options.kafka_commit_timeout_s
            )
        except (KafkaError, TimeoutError) as exc:  # e.g. a rebalance; the lake checkpoint holds it
            self.metrics.kafka_commit_failures.labels(tp.topic).inc()
            log.info(
                "kafka offset commit skipped",
                extra={"topic": tp.topic, "batch_id": state.batch_id, "error": repr(exc)},
            )
        self.crash.reached("after_kafka_commit")
        state.last_flush = time.time()
        status.count_batch(self.totals, self.metrics, tp, outcome, batch_id=state.batch_id, cut=str(reason))
        if self.on_batch is not None:
            self.on_batch(tp, outcome)
        return outcome

    # -- observation --------------------------------------------------------------

    def _readable(self, tp: TopicPartition) -> tuple[int | None, int | None]:
        """The consumer's position in `tp` and the offset it can read up to, from the last
        fetch: reading committed, the last stable offset (an open transaction and what
        follows it cannot be read before it ends, so it is no lag), else the high-water
        mark. None where not known yet."""
        end = self.consumer.highwater(tp)
        if self.options.read_committed:
            stable = self.consumer.last_stable_offset(tp)
            if stable is not None and stable >= 0:  # -1 or None: a broker without one
                end = stable if end is None else min(end, stable)
        return fetch.position(self.consumer, tp), end

    def lags(self) -> list[PartitionLag]:
        """Per assigned partition: the lake checkpoint, the offset readable up to (the
        high-water mark, or the last stable offset when reading committed) and the Kafka
        timestamp of the oldest record not yet durable."""
        out = []
        for tp, state in sorted(self.parts.items(), key=lambda item: (item[0].topic, item[0].partition)):
            buffered = [r.timestamp for r in state.buffer.records[:1]]
            oldest = [t for t in (state.inflight_oldest_ms, *buffered) if t is not None]
            out.append(
                PartitionLag(
                    topic=tp.topic,
                    partition=tp.partition,
                    committed=state.committer.next_offset,
                    high_water=self._readable(tp)[1],
                    oldest_unflushed_ms=min(oldest) if oldest else None,
                )
            )
        return out

    def status(self) -> dict[str, Any]:
        """What /status shows: assignment, per-partition offsets and lag, last flushes
        (and, as it is read, the lag and cache gauges are refreshed)."""
        now_ms = int(time.time() * 1000)
        lags = self.lags()
        by_topic = self.metrics.set_lag(lags, now_ms)
        self.metrics.partitions_waiting.set(len(self.waiting))
        self.metrics.partitions_out_of_range.set(sum(s.out_of_range is not None for s in self.parts.values()))
        return {
            "owner": self.owner,
            "partitions": status.partition_rows(lags, self.parts, now_ms),
            "waiting": status.waiting_rows(self.waiting, time.monotonic()),
            "topics": status.topic_rows(by_topic),
            "totals": dict(self.totals.__dict__),
            "last_loop_age_s": round(self.loop_age_s(), 3),
        }

    def loop_age_s(self) -> float:
        """Seconds since the consume loop last came round (liveness)."""
        return time.monotonic() - self.last_loop

    def ready_reasons(self) -> list[str]:
        """Why the sink is not ready, as far as its partitions tell (empty: ready)."""
        return status.ready_reasons(self.parts, self.waiting, self.options.on_out_of_range)

    # -- offsets out of range (out_of_range.py) -----------------------------------

    def _check_log_end(self) -> None:
        """Once a partition's first fetch answered: is its checkpoint beyond the log end?"""
        for tp, state in self.parts.items():
            if state.in_range or state.out_of_range is not None or state.rewinding:
                continue
            if state.buffer.records:
                state.in_range, state.beyond_end_since = True, None
                continue
            high_water = self.consumer.highwater(tp)
            if high_water is None:
                continue
            if classify(state.committer.next_offset, None, high_water) is None:
                state.in_range, state.beyond_end_since = True, None
            elif self._beyond_end_confirmed(tp, state, high_water):
                self._out_of_range(tp, state, Side.BEYOND_END, state.committer.next_offset)

    async def _fetch_out_of_range(self, error: OffsetOutOfRangeError) -> None:
        """The broker refused a fetch position: below the log start or beyond its end."""
        offsets = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        for tp, offset in offsets.items():
            state = self.parts.get(tp)
            if state is None or state.out_of_range is not None:
                continue
            try:
                starts = await asyncio.wait_for(
                    self.consumer.beginning_offsets([tp]), self.options.setup_timeout_s
                )
                state.log_start = starts.get(tp, state.log_start)
            except (KafkaError, TimeoutError) as exc:
                log.warning("log start unknown", extra={"topic": tp.topic, "error": repr(exc)})
            side = Side.BELOW_START if offset < state.log_start else Side.BEYOND_END
            if side is Side.BELOW_START or self._beyond_end_confirmed(tp, state, None):
                self._out_of_range(tp, state, side, offset)

    def _beyond_end_confirmed(
        self, tp: TopicPartition, state: PartitionState, high_water: int | None
    ) -> bool:
        """Has the checkpoint been seen beyond the log end for `out_of_range_confirm_s`? A new
        leader's high-water mark (or log end) can lag what was landed for a moment; the
        fetches go on meanwhile and clear it when the mark catches up."""
        now = time.monotonic()
        if state.beyond_end_since is None:
            state.beyond_end_since = now
            log.info(
                "checkpoint beyond the log end; confirming",
                extra={
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "next_offset": state.committer.next_offset,
                    "high_water": high_water,
                    "confirm_s": self.options.out_of_range_confirm_s,
                },
            )
        return now - state.beyond_end_since >= self.options.out_of_range_confirm_s

    def _out_of_range(self, tp: TopicPartition, state: PartitionState, side: Side, offset: int) -> None:
        found = OutOfRange(
            topic=tp.topic,
            partition=tp.partition,
            next_offset=state.committer.next_offset,
            log_start=state.log_start,
            log_end=self.consumer.highwater(tp),
            side=side,
        )
        state.out_of_range = found
        state.buffer.clear()
        self.consumer.pause(tp)
        state.paused = True
        self.totals.offsets_out_of_range += 1
        self.metrics.offsets_out_of_range.labels(tp.topic, str(side)).inc()
        skip = self.options.on_out_of_range == "skip"
        log.error(
            "checkpoint out of the partition's log; "
            + ("recording the gap, moving to the log start" if skip else "partition stopped"),
            extra={"topic": tp.topic, "partition": tp.partition, "fetch_offset": offset, **found.doc()},
        )
        if skip:
            task = asyncio.get_running_loop().create_task(self._skip(tp, state, found))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _skip(self, tp: TopicPartition, state: PartitionState, found: OutOfRange) -> None:
        """Record the gap in the lake, then move the checkpoint to the log start (in this
        order: a crash in between leaves the gap recorded and the checkpoint where it was,
        and the next owner finds the same gap)."""
        attempt = 0
        while True:
            if self.parts.get(tp) is not state:
                return
            try:
                key = await record_gap(self.store, found, self.owner)
                moved = replace(
                    state.committer.state.checkpoint,
                    next_offset=found.log_start,
                    pending=None,
                    owner=self.owner,
                )
                state.committer.state = await checkpoint.save(self.store, state.committer.state, moved)
                break
            except PreconditionFailedError as exc:  # another owner wrote the checkpoint: it is theirs
                log.warning("gap skip lost the checkpoint", extra={"topic": tp.topic, "error": repr(exc)})
                return
            except Exception as exc:
                attempt += 1
                delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1]
                log.warning(
                    "gap skip failed", extra={"topic": tp.topic, "error": repr(exc), "retry_in_s": delay}
                )
                await asyncio.sleep(delay)
        if self.parts.get(tp) is not state:
            return
        self.consumer.seek(tp, found.log_start)
        state.buffer.reset(found.log_start)
        state.out_of_range, state.in_range, state.beyond_end_since = None, False, None
        log.warning(
            "gap recorded; checkpoint moved to the log start",
            extra={"topic": tp.topic, "partition": tp.partition, "gap": key, "next_offset": found.log_start},
        )

    def _backpressure(self) -> None:
        """Pause partitions that outrun the store; resume them once their batch is done."""
        over_budget = self._buffered() > self.options.memory_budget_bytes
        for tp, state in self.parts.items():
            full = state.buffer.size >= self.options.rules.max_bytes and state.task is not None
            blocked = state.rewinding or state.out_of_range is not None
            should_pause = full or (over_budget and state.task is not None) or blocked
            if should_pause and not state.paused:
                self.consumer.pause(tp)
                state.paused = True
            elif not should_pause and state.paused:
                self.consumer.resume(tp)
                state.paused = False

    async def drain(self) -> None:
        """At shutdown: finish in-flight batches and flush what is buffered, within the bound."""
        deadline = time.monotonic() + self.options.drain_timeout_s
        self._settle(time.monotonic())
        self._schedule(time.monotonic(), pressure=False, shutdown=True)
        while time.monotonic() < deadline:
            tasks = [s.task for s in self.parts.values() if s.task is not None]
            if not tasks:
                break
            await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
            self._settle(time.monotonic())
            if any(s.buffer.records for s in self.parts.values()):
                self._schedule(time.monotonic(), pressure=False, shutdown=True)
        for state in self.parts.values():
            if state.task is not None and not state.task.done():
                state.task.cancel()
        for retry in self.waiting.values():
            if retry.task is not None:
                retry.task.cancel()


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: BronzeSink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.sink.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.sink.assign(set(assigned))
