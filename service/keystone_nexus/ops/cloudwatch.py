"""CloudWatch metrics: PutMetricData on an interval, off the data path.

Lag is published the way MSK names it (SumOffsetLag, MaxOffsetLag,
EstimatedMaxTimeLag) with the dimensions ConsumerGroup and Topic (per partition only
when asked: each partition is a metric, and metrics cost). Throughput figures are the
deltas since the last publish. Datums go in calls of at most 1000; a call is retried
with backoff, then dropped with a counted warning: metrics never stall ingestion. Each
try of PutMetricData is timed in ``calls`` (service ``cloudwatch``).

The same datums can instead be written as log lines in the embedded metric format
(:mod:`keystone_nexus.ops.emf`), for hosts whose CloudWatch agent ships the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.ops.metrics import AwsCallMetrics

log = logging.getLogger("keystone_nexus.cloudwatch")

MAX_DATUMS_PER_CALL = 1000
NAMESPACE = "KeystoneNexus"
# totals key -> (metric name, unit)
THROUGHPUT = {
    "records_valid": ("RecordsWritten", "Count"),
    "records_dead": ("RecordsDeadLettered", "Count"),
    "bytes_written": ("BytesWritten", "Bytes"),
    "files": ("FilesWritten", "Count"),
    "failures": ("BatchFailures", "Count"),
    "offsets_out_of_range": ("OffsetsOutOfRange", "Count"),
}


def datums(
    status: Mapping[str, Any],
    previous_totals: Mapping[str, int],
    *,
    group: str,
    per_partition: bool = False,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The datums for one publish, from the sink's /status document (pure)."""
    stamp = now or datetime.now(tz=UTC)
    out: list[dict[str, Any]] = []
    base = [{"Name": "ConsumerGroup", "Value": group}]
    for topic, lag in status.get("topics", {}).items():
        dims = [*base, {"Name": "Topic", "Value": topic}]
        out += [
            {
                "MetricName": "SumOffsetLag",
                "Dimensions": dims,
                "Value": lag["sum_offset_lag"],
                "Unit": "Count",
            },
            {
                "MetricName": "MaxOffsetLag",
                "Dimensions": dims,
                "Value": lag["max_offset_lag"],
                "Unit": "Count",
            },
            {
                "MetricName": "EstimatedMaxTimeLag",
                "Dimensions": dims,
                "Value": lag["estimated_max_time_lag_s"],
                "Unit": "Seconds",
            },
        ]
    if per_partition:
        for p in status.get("partitions", []):
            dims = [
                *base,
                {"Name": "Topic", "Value": p["topic"]},
                {"Name": "Partition", "Value": str(p["partition"])},
            ]
            out.append(
                {"MetricName": "OffsetLag", "Dimensions": dims, "Value": p["offset_lag"], "Unit": "Count"}
            )
    totals = status.get("totals", {})
    for key, (name, unit) in THROUGHPUT.items():
        delta = totals.get(key, 0) - previous_totals.get(key, 0)
        out.append({"MetricName": name, "Dimensions": base, "Value": max(0, delta), "Unit": unit})
    for datum in out:
        datum["Timestamp"] = stamp
    return out


class DatumStream:
    """The datums of successive publishes from the sink's status: throughput figures are
    the deltas since the previous call of :meth:`next`."""

    def __init__(
        self, status: Callable[[], Mapping[str, Any]], *, group: str, per_partition: bool = False
    ) -> None:
        self._status = status
        self.group = group
        self.per_partition = per_partition
        self._previous: dict[str, int] = {}

    def next(self) -> list[dict[str, Any]]:
        status = self._status()
        batch = datums(status, self._previous, group=self.group, per_partition=self.per_partition)
        self._previous = {k: int(v) for k, v in status.get("totals", {}).items()}
        return batch


async def every(interval_s: float, stop: asyncio.Event, once: Callable[[], Awaitable[None]]) -> None:
    """Call `once` every `interval_s` seconds until `stop` is set, and once more then."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        await once()


class CloudWatchPublisher:
    def __init__(
        self,
        cloudwatch: Any,
        status: Callable[[], Mapping[str, Any]],
        *,
        group: str,
        namespace: str = NAMESPACE,
        per_partition: bool = False,
        attempts: int = 4,
        calls: AwsCallMetrics | None = None,
    ) -> None:
        self._cw = cloudwatch
        self._stream = DatumStream(status, group=group, per_partition=per_partition)
        self.group = group
        self.namespace = namespace
        self.per_partition = per_partition
        self.attempts = attempts
        self.calls = calls or AwsCallMetrics()
        self.published = 0
        self.dropped = 0
        self._stack: AsyncExitStack | None = None

    @classmethod
    async def open(
        cls, options: AwsOptions, status: Callable[[], Mapping[str, Any]], **kwargs: Any
    ) -> CloudWatchPublisher:
        stack = AsyncExitStack()
        cw = await stack.enter_async_context(client(options, "cloudwatch"))
        publisher = cls(cw, status, **kwargs)
        publisher._stack = stack
        return publisher

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def publish_once(self) -> None:
        batch = self._stream.next()
        for start in range(0, len(batch), MAX_DATUMS_PER_CALL):
            chunk = batch[start : start + MAX_DATUMS_PER_CALL]
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(Exception),
                    wait=wait_exponential_jitter(multiplier=0.5, max=10),
                    stop=stop_after_attempt(self.attempts),
                    reraise=True,
                ):
                    with attempt, self.calls.timed("cloudwatch", "PutMetricData"):
                        await self._cw.put_metric_data(Namespace=self.namespace, MetricData=chunk)
                self.published += len(chunk)
            except Exception as exc:  # dropped, counted, never raised into the sink
                self.dropped += len(chunk)
                log.warning(
                    "cloudwatch datums dropped after retries",
                    extra={"datums": len(chunk), "dropped_total": self.dropped, "error": repr(exc)},
                )

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await every(interval_s, stop, self.publish_once)
