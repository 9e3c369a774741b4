"""`nexus dashboard`: the web dashboard's one origin, read-only, loopback by default.

    /                     the built page (dashboard/dist)
    /api/gold/summary     orders, GMV, the days covered, delivered orders, on-time rate
    /api/gold/sales       GMV and orders by day, week or month (?grain=, default day), and
                          by customer state
    /api/gold/delivery    delivered orders, on-time rate and days late by state, ranked
    /api/gold/sellers     the seller scorecard, by revenue (?limit=1..100, default 10)
    /api/gold/reviews     orders per review score (1 to 5)
    /api/pipeline/freshness  per bronze topic: its last commit, how long ago, and the last
                          hour's batches, records and dead letters (from nexus.batches)
    /api/pipeline/batches the recent batches, newest first (?limit=1..200, default 20)
    /api/pipeline/runs    the recent re-drive, reprocess and transform runs (?limit=1..100,
                          default 10)
    /status, /metrics     the sink's own, passed through (GET only, with a timeout)

Only GET (and HEAD) routes exist. Errors are JSON `{"error": kind, "message": text}`:
503 `gold_not_built` (run the transform), 503 `gold_unavailable` (try again), 502
`sink_unreachable` (the sink's health server did not answer), 400 `bad_request`.
The pipeline routes read the ledger in PostgreSQL: without state.dsn they answer 503
`state_not_configured` (saying NEXUS_STATE__DSN is not set); 503 `state_not_migrated`
(run `nexus state migrate`), 503 `state_unavailable` (try again), 500 `state_failed`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from keystone_nexus import __version__
from keystone_nexus.dashboard.gold import MAX_SELLERS, GoldSource, GoldViews
from keystone_nexus.dashboard.pipeline import (
    MAX_BATCHES,
    MAX_RUNS,
    Ledger,
    batches_doc,
    freshness_doc,
    runs_doc,
)
from keystone_nexus.errors import (
    GoldError,
    GoldNotBuiltError,
    GoldUnavailableError,
    StateError,
    StateNotConfiguredError,
    StateNotMigratedError,
    StateUnavailableError,
)
from keystone_nexus.state.freshness import WINDOW_S

DIST = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
UPSTREAM = web.AppKey("upstream", aiohttp.ClientSession)


@dataclass(frozen=True, kw_only=True)
class DashboardOptions:
    status_url: str  # the sink's health server, e.g. http://127.0.0.1:8787
    host: str = "127.0.0.1"
    port: int = 8788
    static_dir: Path = DIST
    gold_schema: str = "gold"
    upstream_timeout_s: float = 3.0
    topics: tuple[str, ...] = ()  # the bronze topics freshness lists even before their first batch


def _json(doc: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(doc),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _error(kind: str, message: str, status: int) -> web.Response:
    return _json({"error": kind, "message": message}, status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
View = Callable[[web.Request], Awaitable[dict[str, Any]]]
NOT_CONFIGURED = (
    "NEXUS_STATE__DSN is not set: the pipeline ledger lives in the state database "
    "(state.dsn, postgresql://user:password@host:port/db); set it where the sink's is set"
)


def _limit(request: web.Request, default: int, most: int) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise ValueError(f"limit must be a whole number from 1 to {most}, not {text[:20]!r}")
    return int(text)


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


class Dashboard:
    """The aiohttp application: gold views, the pipeline ledger's views (when there is a
    ledger), the sink's endpoints passed through, the page."""

    def __init__(self, source: GoldSource, options: DashboardOptions, ledger: Ledger | None = None) -> None:
        self.source, self.options, self.ledger = source, options, ledger
        self.views = GoldViews(source, options.gold_schema)
        self.upstream = options.status_url.rstrip("/")
        app = web.Application(middlewares=[_headers])
        app.router.add_get("/api/gold/summary", self._view(lambda _r: self.views.summary()))
        app.router.add_get("/api/gold/sales", self._view(self._sales))
        app.router.add_get("/api/gold/delivery", self._view(lambda _r: self.views.delivery()))
        app.router.add_get("/api/gold/sellers", self._view(self._sellers))
        app.router.add_get("/api/gold/reviews", self._view(lambda _r: self.views.reviews()))
        app.router.add_get("/api/pipeline/freshness", self._view(self._freshness))
        app.router.add_get("/api/pipeline/batches", self._view(self._batches))
        app.router.add_get("/api/pipeline/runs", self._view(self._runs))
        app.router.add_get("/api/about", self.about)
        app.router.add_get("/status", self.status)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/", self.index)
        if (options.static_dir / "assets").is_dir():
            app.router.add_static("/assets", options.static_dir / "assets")
        app.cleanup_ctx.append(self._session)
        self.app = app

    async def _session(self, app: web.Application) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.options.upstream_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[UPSTREAM] = session
            yield

    def _sales(self, request: web.Request) -> Awaitable[dict[str, Any]]:
        return self.views.sales(request.query.get("grain", "day"))

    def _sellers(self, request: web.Request) -> Awaitable[dict[str, Any]]:
        return self.views.sellers(_limit(request, 10, MAX_SELLERS))

    def _configured(self) -> Ledger:
        if self.ledger is None:
            raise StateNotConfiguredError(NOT_CONFIGURED)
        return self.ledger

    async def _freshness(self, _request: web.Request) -> dict[str, Any]:
        now = time.time()
        rows = await self._configured().freshness(now=now, window_s=WINDOW_S)
        return freshness_doc(rows, now=now, window_s=WINDOW_S, topics=self.options.topics)

    async def _batches(self, request: web.Request) -> dict[str, Any]:
        limit = _limit(request, 20, MAX_BATCHES)
        return batches_doc(await self._configured().batches(limit))

    async def _runs(self, request: web.Request) -> dict[str, Any]:
        limit = _limit(request, 10, MAX_RUNS)
        return runs_doc(await self._configured().runs(limit))

    def _view(self, view: View) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                return _json(await view(request))
            except ValueError as exc:
                return _error("bad_request", str(exc), 400)
            except GoldNotBuiltError as exc:
                return _error("gold_not_built", str(exc), 503)
            except GoldUnavailableError as exc:
                return _error("gold_unavailable", str(exc), 503)
            except GoldError as exc:
                return _error("gold_failed", str(exc), 500)
            except StateNotConfiguredError as exc:
                return _error("state_not_configured", str(exc), 503)
            except StateNotMigratedError as exc:
                return _error("state_not_migrated", str(exc), 503)
            except StateUnavailableError as exc:
                return _error("state_unavailable", str(exc), 503)
            except StateError as exc:
                return _error("state_failed", str(exc), 500)

        return handle

    async def about(self, _request: web.Request) -> web.Response:
        ledger = None if self.ledger is None else self.ledger.describe
        return _json(
            {"version": __version__, "gold": self.source.describe, "sink": self.upstream, "ledger": ledger}
        )

    async def _pass_through(self, request: web.Request, path: str) -> web.Response:
        url = f"{self.upstream}{path}"
        try:
            async with request.app[UPSTREAM].get(url) as upstream:
                body = await upstream.read()
                return web.Response(
                    body=body,
                    status=upstream.status,
                    content_type=upstream.content_type,
                    headers={"Cache-Control": "no-store"},
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            return _error(
                "sink_unreachable", f"the sink's health server at {url} did not answer: {reason}", 502
            )

    async def status(self, request: web.Request) -> web.Response:
        return await self._pass_through(request, "/status")

    async def metrics(self, request: web.Request) -> web.Response:
        return await self._pass_through(request, "/metrics")

    async def index(self, _request: web.Request) -> web.StreamResponse:
        page = self.options.static_dir / "index.html"
        if not page.is_file():
            return web.Response(
                status=503,
                text=f"The dashboard page is not built ({page}): make dashboard",
                content_type="text/plain",
            )
        return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


async def serve(
    source: GoldSource,
    options: DashboardOptions,
    ready: Callable[[int], None],
    ledger: Ledger | None = None,
) -> None:
    """Serve until cancelled; `ready` gets the bound port."""
    dashboard = Dashboard(source, options, ledger)
    runner = web.AppRunner(dashboard.app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        ready(sockets[0].getsockname()[1] if sockets else options.port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        source.close()
        if ledger is not None:
            await ledger.close()
