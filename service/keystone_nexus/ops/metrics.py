"""Every metric the service emits, named once, units in the names, low-cardinality labels.

Prometheus names follow `nexus_<subsystem>_<name>_<unit>[_total]`; a duration is
`..._duration_seconds` (a histogram), in the sink, the twin and the C++ server alike.
Counters count (`_total`), with no `_created` series; the sink's registry also carries
the process collector (`process_resident_memory_bytes`, `process_cpu_seconds_total` of
the main process) and its whole tree's RSS, encode workers included
(`nexus_sink_process_tree_resident_memory_bytes`). Lag is computed
from the high-water mark carried by fetch responses and the lake checkpoint (what is
durable), never from ListOffsets, which the local broker answers wrongly. Per topic
the sums and maxima are named the way MSK names them (SumOffsetLag, MaxOffsetLag,
EstimatedMaxTimeLag), so CloudWatch dashboards read the same.

AWS calls (S3, Glue, CloudWatch) are timed and their errors counted by
:class:`AwsCallMetrics`, labelled by service and operation (the API's name, e.g.
``PutObject``): each adapter records every try in the one place it makes its calls.

The JSON logs' field names are named here too (``FIELD_*``), so logs, /status and
dashboards agree: ``topic``, ``partition``, ``offsets`` ([first, last] of a batch),
``batch_id`` (``<topic>/<partition>/<first offset>``: the same for every try of a
batch, and the coordinates of its object names), ``duration_s`` (seconds) and ``error``.

The ingestion servers' names (``INGEST_*``) are the C++ server's
(``ingestion_cpp/src/metrics.h``), with its latency buckets, so one dashboard serves
the C++ server and its Python twin.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

# Log and status field names, shared by the JSON logs and /status.
FIELD_TOPIC = "topic"
FIELD_PARTITION = "partition"
FIELD_OFFSETS = "offsets"
FIELD_BATCH_ID = "batch_id"
FIELD_DURATION_S = "duration_s"
FIELD_ERROR = "error"

AWS_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# The ingestion servers' metrics (both servers, the same names and labels).
INGEST_CALLS = "nexus_ingest_calls_total"  # {method}
INGEST_ACCEPTED = "nexus_ingest_events_accepted_total"
# {reason="invalid"|"queue_full"|"delivery"|"permission_denied"}
INGEST_REJECTED = "nexus_ingest_events_rejected_total"
# {reason="missing_token"|"unknown_token"} calls refused UNAUTHENTICATED, "permission_denied" events
INGEST_AUTH_REJECTIONS = "nexus_ingest_auth_rejections_total"
INGEST_PRODUCED = "nexus_ingest_kafka_produced_total"
INGEST_DELIVERY_ERRORS = "nexus_ingest_kafka_delivery_errors_total"
INGEST_QUEUE_DEPTH = "nexus_ingest_kafka_queue_messages"
INGEST_LATENCY = "nexus_ingest_request_duration_seconds"  # {method}, histogram
INGEST_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)


class LatencyHistogram:
    """Call durations in INGEST_LATENCY_BUCKETS: plain counts, bumped once per call and
    read when scraped (no lock: one event loop writes them)."""

    __slots__ = ("_counts", "sum_s")

    def __init__(self) -> None:
        self._counts = [0] * (len(INGEST_LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(INGEST_LATENCY_BUCKETS, seconds)] += 1
        self.sum_s += seconds

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative (le, count) pairs ending with +Inf; le written as the C++ server
        writes it ("0.001", "1", "60")."""
        out, total = [], 0
        for bound, count in zip((*INGEST_LATENCY_BUCKETS, float("inf")), self._counts, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else f"{bound:g}", float(total)))
        return out


class AwsCallMetrics:
    """Latency and errors of AWS calls, per service and operation (each try counts)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.seconds = Histogram(
            "nexus_aws_call_duration_seconds",
            "Time of one AWS request (one try), by service and operation",
            ["service", "operation"],
            buckets=AWS_CALL_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "nexus_aws_call_errors",
            "AWS requests (tries) that failed, by service and operation",
            ["service", "operation"],
            registry=r,
        )

    @contextmanager
    def timed(self, service: str, operation: str) -> Iterator[None]:
        """Time the body as one call; an exception out of it counts as an error
        (a cancellation does not: the call was abandoned, not failed)."""
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.errors.labels(service, operation).inc()
            raise
        finally:
            self.seconds.labels(service, operation).observe(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int  # the lake checkpoint's next offset
    high_water: int | None  # readable up to, from the last fetch: the LSO when reading committed
    oldest_unflushed_ms: int | None  # Kafka timestamp of the oldest record not yet in the lake

    @property
    def offset_lag(self) -> int:
        return 0 if self.high_water is None else max(0, self.high_water - self.committed)

    def time_lag_s(self, now_ms: int) -> float:
        return (
            0.0 if self.oldest_unflushed_ms is None else max(0.0, (now_ms - self.oldest_unflushed_ms) / 1000)
        )


@dataclass(frozen=True, slots=True)
class TopicLag:
    sum_offset_lag: int
    max_offset_lag: int
    estimated_max_time_lag_s: float


def topic_lags(partitions: Iterable[PartitionLag], now_ms: int) -> dict[str, TopicLag]:
    """Per topic: SumOffsetLag, MaxOffsetLag and EstimatedMaxTimeLag, as MSK reports them."""
    grouped: dict[str, list[PartitionLag]] = {}
    for lag in partitions:
        grouped.setdefault(lag.topic, []).append(lag)
    return {
        topic: TopicLag(
            sum_offset_lag=sum(p.offset_lag for p in lags),
            max_offset_lag=max(p.offset_lag for p in lags),
            estimated_max_time_lag_s=max(p.time_lag_s(now_ms) for p in lags),
        )
        for topic, lags in grouped.items()
    }


disable_created_metrics()  # type: ignore[no-untyped-call]  # no `<counter>_created` series beside every counter


def tree_rss_bytes(pid: int) -> int:
    """The resident memory of `pid` and every process below it, from /proc (0 off Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * page
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(p, 0) for p in tree)


class _SinkCollector:
    """What is read at scrape time: the registry cache's hits and misses (counters kept by
    the cache itself) and the process tree's resident memory."""

    def __init__(self) -> None:
        self.cache: Callable[[], tuple[int, int]] | None = None

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        if self.cache is not None:
            hits, misses = self.cache()
            yield CounterMetricFamily(
                "nexus_registry_cache_hits", "Schema cache hits since start", value=hits
            )
            yield CounterMetricFamily(
                "nexus_registry_cache_misses", "Schema cache misses since start", value=misses
            )
        yield GaugeMetricFamily(
            "nexus_sink_process_tree_resident_memory_bytes",
            "Resident memory of the sink and its encode workers",
            value=tree_rss_bytes(os.getpid()),
        )


class SinkMetrics:
    """The bronze sink's Prometheus metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self._scraped = _SinkCollector()
        r.register(self._scraped)
        self.records_consumed = Counter(
            "nexus_sink_records_consumed", "Records fetched from Kafka", ["topic"], registry=r
        )
        self.records_written = Counter(
            "nexus_sink_records_written", "Valid records written to bronze", ["topic"], registry=r
        )
        self.records_dead_lettered = Counter(
            "nexus_sink_records_dead_lettered",
            "Records written to the dead-letter store",
            ["topic"],
            registry=r,
        )
        self.bytes_written = Counter(
            "nexus_sink_written_bytes", "Parquet bytes written to the lake", ["topic"], registry=r
        )
        self.files_written = Counter(
            "nexus_sink_files_written", "Objects written to the lake", ["topic"], registry=r
        )
        self.batch_failures = Counter(
            "nexus_sink_batch_failures",
            "Batches that failed and were retried from the checkpoint",
            ["topic"],
            registry=r,
        )
        self.rebalances = Counter("nexus_sink_rebalances", "Partition assignments received", registry=r)
        self.flush_seconds = Histogram(
            "nexus_sink_batch_flush_duration_seconds",
            "Time from cut to durable checkpoint",
            ["topic"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.partition_offset_lag = Gauge(
            "nexus_sink_partition_offset_lag_records",
            "High-water mark minus the lake checkpoint, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.sum_offset_lag = Gauge(
            "nexus_sink_sum_offset_lag_records",
            "SumOffsetLag: offset lag summed over a topic",
            ["topic"],
            registry=r,
        )
        self.max_offset_lag = Gauge(
            "nexus_sink_max_offset_lag_records",
            "MaxOffsetLag: the largest partition lag of a topic",
            ["topic"],
            registry=r,
        )
        self.max_time_lag = Gauge(
            "nexus_sink_estimated_max_time_lag_seconds",
            "EstimatedMaxTimeLag: age of the oldest record not yet in the lake",
            ["topic"],
            registry=r,
        )
        self.offsets_out_of_range = Counter(
            "nexus_sink_offsets_out_of_range",
            "Partitions found with a checkpoint outside their log (side: below-log-start, beyond-log-end)",
            ["topic", "side"],
            registry=r,
        )
        self.partitions_out_of_range = Gauge(
            "nexus_sink_partitions_out_of_range",
            "Partitions stopped (halt) or being moved (skip) because their checkpoint is out of range",
            registry=r,
        )
        self.kafka_commit_failures = Counter(
            "nexus_sink_kafka_commit_failures",
            "Consumer-group offset commits that failed or timed out (the lake checkpoint holds)",
            ["topic"],
            registry=r,
        )
        self.partition_setup_failures = Counter(
            "nexus_sink_partition_setup_failures",
            "Assigned partitions whose setup (committed offset, checkpoint) failed; retried",
            ["topic"],
            registry=r,
        )
        self.ledger_rows = Counter(
            "nexus_sink_ledger_rows",
            "Batches recorded in the PostgreSQL ledger (nexus.batches), repeats included",
            registry=r,
        )
        self.ledger_failures = Counter(
            "nexus_sink_ledger_write_failures",
            "Ledger writes that failed (the rows wait in memory and are tried again)",
            registry=r,
        )
        self.ledger_dropped = Counter(
            "nexus_sink_ledger_rows_dropped",
            "Ledger rows dropped past the in-memory bound while PostgreSQL was down "
            "(nexus state rebuild restores them from the lake)",
            registry=r,
        )
        self.partitions_waiting = Gauge(
            "nexus_sink_partitions_waiting",
            "Assigned partitions paused until their setup succeeds",
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "nexus_sink_assigned_partitions", "Partitions this instance owns", registry=r
        )
        self.aws = AwsCallMetrics(r)

    def watch_cache(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Expose the schema cache's (hits, misses), read at each scrape, as counters."""
        self._scraped.cache = counts

    def set_lag(self, partitions: Iterable[PartitionLag], now_ms: int) -> Mapping[str, TopicLag]:
        partitions = list(partitions)
        self.partition_offset_lag.clear()
        for lag in partitions:
            self.partition_offset_lag.labels(lag.topic, str(lag.partition)).set(lag.offset_lag)
        by_topic = topic_lags(partitions, now_ms)
        for topic, summary in by_topic.items():
            self.sum_offset_lag.labels(topic).set(summary.sum_offset_lag)
            self.max_offset_lag.labels(topic).set(summary.max_offset_lag)
            self.max_time_lag.labels(topic).set(summary.estimated_max_time_lag_s)
        self.assigned_partitions.set(len(partitions))
        return by_topic

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
