"""CloudWatch metrics as log lines in the embedded metric format (EMF).

For hosts that ship logs with the CloudWatch agent (or any other path into CloudWatch
Logs): CloudWatch extracts the metrics from each line, so no PutMetricData call and no
`cloudwatch:PutMetricData` permission is needed. The datums are the ones the
PutMetricData publisher would send (:func:`keystone_nexus.ops.cloudwatch.datums`); each
line holds the datums that share one set of dimensions:

    {"_aws": {"Timestamp": 1718000000000,
              "CloudWatchMetrics": [{"Namespace": "KeystoneNexus",
                                     "Dimensions": [["ConsumerGroup", "Topic"]],
                                     "Metrics": [{"Name": "SumOffsetLag", "Unit": "Count"}, ...]}]},
     "ConsumerGroup": "keystone-nexus-bronze", "Topic": "olist.orders.v1",
     "SumOffsetLag": 42, ...}

Dimension values and metric values sit at the top level, as the format asks; a line
carries at most 100 metrics (the format's limit per directive).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from keystone_nexus.ops.cloudwatch import NAMESPACE, DatumStream, every

MAX_METRICS_PER_LINE = 100


def _millis(stamp: Any) -> int:
    if isinstance(stamp, datetime):
        return int(stamp.timestamp() * 1000)
    return int(datetime.now(tz=UTC).timestamp() * 1000)


def documents(datums: Iterable[Mapping[str, Any]], namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The EMF documents of `datums` (PutMetricData's MetricData entries), one per set
    of dimensions (and per 100 metrics), in the order the sets first appear (pure)."""
    groups: dict[tuple[tuple[str, str], ...], list[Mapping[str, Any]]] = {}
    for datum in datums:
        dims = tuple((str(d["Name"]), str(d["Value"])) for d in datum.get("Dimensions", []))
        groups.setdefault(dims, []).append(datum)
    out: list[dict[str, Any]] = []
    for dims, members in groups.items():
        for start in range(0, len(members), MAX_METRICS_PER_LINE):
            chunk = members[start : start + MAX_METRICS_PER_LINE]
            doc: dict[str, Any] = {
                "_aws": {
                    "Timestamp": _millis(chunk[0].get("Timestamp")),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [[name for name, _ in dims]],
                            "Metrics": [
                                {"Name": d["MetricName"], "Unit": d.get("Unit", "None")} for d in chunk
                            ],
                        }
                    ],
                },
                **dict(dims),
            }
            for d in chunk:
                doc[str(d["MetricName"])] = d["Value"]
            out.append(doc)
    return out


class EmfWriter:
    """Writes the sink's datums as EMF lines through `write` (one call per line, the
    newline included) on an interval."""

    def __init__(
        self,
        status: Callable[[], Mapping[str, Any]],
        write: Callable[[str], None],
        *,
        group: str,
        namespace: str = NAMESPACE,
        per_partition: bool = False,
    ) -> None:
        self._stream = DatumStream(status, group=group, per_partition=per_partition)
        self._write = write
        self.namespace = namespace
        self.lines = 0

    async def publish_once(self) -> None:
        for doc in documents(self._stream.next(), self.namespace):
            self._write(orjson.dumps(doc).decode() + "\n")
            self.lines += 1

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await every(interval_s, stop, self.publish_once)
