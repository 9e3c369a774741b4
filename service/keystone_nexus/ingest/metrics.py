"""The twin's Prometheus endpoint: `GET /metrics` with the C++ server's metric names.

The figures are read when scraped, from the service's `Counters` and the producer's
delivery report counts, through a collector in a registry of the twin's own (not
prometheus_client's global one). Families built by hand carry no `_created` series, so
the exposition has the same series as the C++ server's (names in `keystone_nexus.ops.metrics`).
Served by aiohttp on the event loop that writes the counters, so a scrape reads them
between two steps of the calls, never halfway through one.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from keystone_nexus.ingest.producer import AsyncProducer
from keystone_nexus.ingest.service import Counters
from keystone_nexus.ops.metrics import (
    INGEST_ACCEPTED,
    INGEST_AUTH_REJECTIONS,
    INGEST_CALLS,
    INGEST_DELIVERY_ERRORS,
    INGEST_LATENCY,
    INGEST_PRODUCED,
    INGEST_QUEUE_DEPTH,
    INGEST_REJECTED,
)


class IngestCollector(Collector):
    """The service's and the producer's totals as Prometheus families."""

    def __init__(self, counters: Counters, producer: AsyncProducer) -> None:
        self._counters = counters
        self._producer = producer

    def collect(self) -> Iterator[Metric]:
        c, p = self._counters, self._producer
        calls = CounterMetricFamily(INGEST_CALLS, "gRPC calls started", labels=["method"])
        calls.add_metric(["Publish"], c.calls_publish)
        calls.add_metric(["PublishStream"], c.calls_stream)
        yield calls
        yield CounterMetricFamily(
            INGEST_ACCEPTED, "Events acknowledged to the client after their delivery report", value=c.accepted
        )
        rejected = CounterMetricFamily(
            INGEST_REJECTED, "Events answered as rejected, by reason", labels=["reason"]
        )
        rejected.add_metric(["invalid"], c.rejected_invalid)
        rejected.add_metric(["queue_full"], c.rejected_queue_full)
        rejected.add_metric(["delivery"], c.rejected_delivery)
        rejected.add_metric(["permission_denied"], c.rejected_permission)
        yield rejected
        auth = CounterMetricFamily(
            INGEST_AUTH_REJECTIONS,
            "Calls refused UNAUTHENTICATED (missing_token, unknown_token) and events of an entity "
            "their producer may not publish (permission_denied)",
            labels=["reason"],
        )
        for reason, refused in c.auth_refused.items():
            auth.add_metric([reason.value], refused)
        auth.add_metric(["permission_denied"], c.rejected_permission)
        yield auth
        yield CounterMetricFamily(
            INGEST_PRODUCED, "Messages Kafka acknowledged (delivery reports without error)", value=p.delivered
        )
        yield CounterMetricFamily(
            INGEST_DELIVERY_ERRORS, "Delivery reports with an error", value=p.delivery_errors
        )
        yield GaugeMetricFamily(
            INGEST_QUEUE_DEPTH,
            "Messages in librdkafka's queue (waiting, in flight, or awaiting their report)",
            value=p.queue_depth(),
        )
        latency = HistogramMetricFamily(
            INGEST_LATENCY, "gRPC call duration, from the call's start to its answer", labels=["method"]
        )
        latency.add_metric(["Publish"], c.publish_latency.buckets(), c.publish_latency.sum_s)
        latency.add_metric(["PublishStream"], c.stream_latency.buckets(), c.stream_latency.sum_s)
        yield latency


def ingest_registry(counters: Counters, producer: AsyncProducer) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IngestCollector(counters, producer))
    return registry


class MetricsEndpoint:
    """`GET /metrics` on one HOST:PORT; other paths answer 404."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)

    async def start(self, listen: str) -> int:
        """Serve on `listen` (HOST:PORT, port 0: any free one); returns the bound port.
        Raises OSError when the address cannot be bound."""
        host, _, port = listen.rpartition(":")
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, host.removeprefix("[").removesuffix("]") or None, int(port))
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        bound: int = self._runner.addresses[0][1]
        return bound

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )
