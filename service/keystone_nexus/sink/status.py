"""What the sink shows of itself: the rows of /status and the reasons /readyz fails,
as pure functions of its state (`state`) and the lag it measured; and a committed batch
counted in the totals, the metrics and the log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import TopicPartition

from keystone_nexus.ops.metrics import PartitionLag, SinkMetrics, TopicLag
from keystone_nexus.sink.commit import BatchOutcome
from keystone_nexus.sink.state import PartitionState, SetupRetry, SinkTotals

log = logging.getLogger("keystone_nexus.sink")


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _by_name(item: tuple[TopicPartition, Any]) -> tuple[str, int]:
    return item[0].topic, item[0].partition


def partition_rows(
    lags: list[PartitionLag], parts: Mapping[TopicPartition, PartitionState], now_ms: int
) -> list[dict[str, Any]]:
    rows = []
    for lag in lags:
        state = parts[TopicPartition(lag.topic, lag.partition)]
        rows.append(
            {
                "topic": lag.topic,
                "partition": lag.partition,
                "committed": lag.committed,
                "high_water": lag.high_water,
                "offset_lag": lag.offset_lag,
                "time_lag_s": round(lag.time_lag_s(now_ms), 3),
                "buffered": len(state.buffer.records),
                "in_flight": state.task is not None,
                "paused": state.paused,
                "rewinding": state.rewinding,
                "out_of_range": None if state.out_of_range is None else state.out_of_range.doc(),
                "failures": state.failures,
                "last_flush": state.last_flush,
            }
        )
    return rows


def waiting_rows(waiting: Mapping[TopicPartition, SetupRetry], now: float) -> list[dict[str, Any]]:
    return [
        {
            "topic": tp.topic,
            "partition": tp.partition,
            "attempts": retry.attempts,
            "error": retry.error,
            "retry_in_s": round(max(0.0, retry.retry_at - now), 3),
        }
        for tp, retry in sorted(waiting.items(), key=_by_name)
    ]


def topic_rows(by_topic: Mapping[str, TopicLag]) -> dict[str, dict[str, Any]]:
    return {
        topic: {
            "sum_offset_lag": t.sum_offset_lag,
            "max_offset_lag": t.max_offset_lag,
            "estimated_max_time_lag_s": round(t.estimated_max_time_lag_s, 3),
        }
        for topic, t in by_topic.items()
    }


def ready_reasons(
    parts: Mapping[TopicPartition, PartitionState],
    waiting: Mapping[TopicPartition, SetupRetry],
    on_out_of_range: str,
) -> list[str]:
    """Why /readyz fails because of the partitions (empty: no reason)."""
    reasons = []
    if not parts and not waiting:
        reasons.append("no partitions assigned yet")
    failing = sorted(_name(tp) for tp, s in parts.items() if s.failures)
    if failing:
        reasons.append("writes failing (lake or registry) for " + ", ".join(failing))
    if waiting:
        names = ", ".join(sorted(map(_name, waiting)))
        reasons.append(f"partition setup failing (committed offset or checkpoint) for {names}")
    halted = sorted(
        f"{_name(tp)} ({s.out_of_range.side}, checkpoint {s.out_of_range.next_offset})"
        for tp, s in parts.items()
        if s.out_of_range is not None
    )
    if halted:
        reasons.append(f"offsets out of range ({on_out_of_range}) for " + ", ".join(halted))
    return reasons


def count_batch(
    totals: SinkTotals,
    metrics: SinkMetrics,
    tp: TopicPartition,
    outcome: BatchOutcome,
    *,
    batch_id: str,
    cut: str,
) -> None:
    """A committed batch in the totals, the metrics and the log (`batch committed`)."""
    totals.batches += 1
    totals.records_valid += outcome.valid
    totals.records_dead += outcome.invalid
    totals.records_skipped += outcome.skipped
    totals.files += outcome.files
    totals.bytes_written += outcome.bytes_written
    metrics.records_written.labels(tp.topic).inc(outcome.valid)
    metrics.records_dead_lettered.labels(tp.topic).inc(outcome.invalid)
    metrics.bytes_written.labels(tp.topic).inc(outcome.bytes_written)
    metrics.files_written.labels(tp.topic).inc(outcome.files)
    metrics.flush_seconds.labels(tp.topic).observe(outcome.seconds)
    log.info(
        "batch committed",
        extra={
            "topic": tp.topic,
            "partition": tp.partition,
            "batch_id": batch_id,
            "offsets": [outcome.start, outcome.end],
            "cut": cut,
            "valid": outcome.valid,
            "dead_lettered": outcome.invalid,
            "files": outcome.files,
            "bytes": outcome.bytes_written,
            "duration_s": round(outcome.seconds, 3),
        },
    )
