"""The health and metrics endpoint: one port, loopback by default, read-only.

It comes up first, before any dependency is tried; until the sink is wired
(:meth:`HealthServer.serve`) it answers from the start-up's record:

/healthz   liveness: the event loop answers and the consume loop ran within the bound
           (NEXUS_HEALTH__LIVENESS_BOUND_S); 503 "stalled" otherwise. While starting:
           200 "starting" (each start-up try is bounded in time, so it cannot hang)
/readyz    readiness: broker reachable, partitions assigned, no partition failing
           its writes or its setup; 503 with the reasons otherwise. While starting: 503 with
           "starting": true, "waiting_for" (e.g. ["Kafka"]) and a reason per dependency
/metrics   Prometheus exposition
/status    JSON: assignment, per-partition committed / high-water / lag, last
           flush, totals, version. While starting: 503 with what /readyz says
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from aiohttp import web

from keystone_nexus import __version__
from keystone_nexus.ops.metrics import SinkMetrics
from keystone_nexus.startup import Startup


class SinkView(Protocol):
    """What the health endpoint reads of a running sink (the daemon's BronzeSink)."""

    @property
    def metrics(self) -> SinkMetrics: ...

    def status(self) -> dict[str, Any]: ...  # /status, and it refreshes the lag gauges

    def ready_reasons(self) -> list[str]: ...  # empty: ready, as far as the partitions tell

    def loop_age_s(self) -> float: ...  # since the consume loop last came round


async def broker_reachable(bootstrap_servers: Sequence[str], timeout_s: float = 1.0) -> bool:
    for server in bootstrap_servers:
        host, _, port = server.strip().rpartition(":")
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout_s)
        except (OSError, TimeoutError):
            continue
        writer.close()
        return True
    return False


def _json(doc: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


class HealthServer:
    def __init__(
        self,
        sink: SinkView | None,
        bootstrap_servers: str,
        host: str,
        port: int,
        *,
        liveness_bound_s: float,
        startup: Startup | None = None,
        metrics: SinkMetrics | None = None,
    ) -> None:
        """`sink` None: starting, answered from `startup` (and `metrics` for /metrics)
        until :meth:`serve` hands the sink over."""
        self.sink = sink
        self.startup = startup or Startup(done=True)
        self._metrics = metrics
        self.liveness_bound_s = liveness_bound_s
        self.bootstrap = bootstrap_servers.split(",")
        self.host, self.port = host, port
        self.started = time.time()
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/status", self.status)
        self.app = app

    async def start(self) -> int:
        """Start serving; returns the bound port (useful when asked for port 0)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        return self.port

    @property
    def sink_metrics(self) -> SinkMetrics:
        if self.sink is not None:
            return self.sink.metrics
        if self._metrics is None:
            self._metrics = SinkMetrics()
        return self._metrics

    def serve(self, sink: SinkView) -> None:
        """Start-up is over: answer for `sink` from now on."""
        self.sink = sink

    def _starting(self) -> dict[str, object]:
        return {
            "starting": True,
            "waiting_for": self.startup.waiting_for(),
            "reasons": self.startup.reasons(),
        }

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def healthz(self, _request: web.Request) -> web.Response:
        if self.sink is None:
            return _json({"status": "starting", "waiting_for": self.startup.waiting_for()})
        age = self.sink.loop_age_s()
        alive = age < self.liveness_bound_s
        doc = {
            "status": "ok" if alive else "stalled",
            "consume_loop_age_s": round(age, 3),
            "bound_s": self.liveness_bound_s,
        }
        return _json(doc, 200 if alive else 503)

    async def readyz(self, _request: web.Request) -> web.Response:
        if self.sink is None:
            return _json({"ready": False, **self._starting()}, 503)
        reasons = []
        if not await broker_reachable(self.bootstrap):
            reasons.append("broker unreachable: " + ",".join(self.bootstrap))
        reasons += self.sink.ready_reasons()
        if reasons:
            return _json({"ready": False, "reasons": reasons}, 503)
        return _json({"ready": True})

    async def metrics(self, _request: web.Request) -> web.Response:
        if self.sink is not None:
            self.sink.status()  # refreshes the lag gauges
        body = self.sink_metrics.exposition()
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def status(self, _request: web.Request) -> web.Response:
        head = {"version": __version__, "started": self.started}
        if self.sink is None:  # no partitions, offsets or totals yet: 503, as /readyz
            return _json({**head, **self._starting()}, 503)
        doc = {**head, **self.sink.status()}
        return _json(doc)
