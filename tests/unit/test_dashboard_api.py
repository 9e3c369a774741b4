"""The dashboard's JSON API over a real DuckDB file with known gold rows, the sink's
endpoints passed through from a real HTTP server, and the page's static files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from keystone_nexus.dashboard import Dashboard, DashboardOptions, DuckDBGold

SCHEMA = """
create schema gold;
create table gold.agg_daily_sales (purchase_date date, customer_state varchar, orders bigint, gmv double);
create table gold.agg_delivery_performance (
    customer_state varchar, purchase_month date, delivered_orders bigint, on_time_rate double,
    avg_delivery_days double, avg_days_late double);
create table gold.dim_sellers (
    seller_id varchar, zip_code_prefix varchar, city varchar, state varchar, lat double, lng double,
    revenue double, orders bigint, items bigint, avg_review_score double, late_shipping_rate double);
create table gold.fct_orders (order_id varchar, review_score integer);
insert into gold.agg_daily_sales values
    ('2018-01-02', 'SP', 3, 300.5), ('2018-01-02', 'RJ', 1, 50.25),
    ('2018-01-01', 'SP', 2, 120.0), ('2018-01-03', 'MG', 1, 500.0);
insert into gold.agg_delivery_performance values
    ('SP', '2018-01-01', 4, 0.75, 8.0, 2.0),
    ('SP', '2018-02-01', 6, 0.5, 9.0, 4.0),
    ('RJ', '2018-01-01', 2, 1.0, 5.0, null),
    ('MG', '2018-01-01', 5, 0.8, 7.0, 1.0);
insert into gold.dim_sellers values
    ('s-low', '01000', 'sao paulo', 'SP', null, null, 10.0, 1, 1, 5.0, 0.0),
    ('s-top', '20000', 'rio de janeiro', 'RJ', null, null, 900.0, 7, 9, 3.25, 0.5),
    ('s-mid', '30000', 'belo horizonte', 'MG', null, null, 400.0, 3, 3, null, null),
    ('s-tie', '30001', 'contagem', 'MG', null, null, 400.0, 5, 5, 4.0, 0.2);
insert into gold.fct_orders values ('o1', 5), ('o2', 5), ('o3', 1), ('o4', 4), ('o5', null);
"""

# The async fixtures live on the session's loop (asyncio_default_fixture_loop_scope); the tests too.
pytestmark = pytest.mark.asyncio(loop_scope="session")

STATUS = b'{"version":"9.9.9","partitions":[],"topics":{},"totals":{}}'
METRICS = b'nexus_sink_records_consumed_total{topic="olist.orders.v1"} 42.0\n'


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    # Named as its schema is: the catalog DuckDB names after the file is `gold` too, and
    # the dashboard must still read `gold.<table>`.
    path = tmp_path / "gold.duckdb"
    with duckdb.connect() as con:
        con.execute(f"attach '{path}' as built; use built")
        con.execute(SCHEMA)
    return path


@pytest.fixture
def static(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Keystone Nexus</title>")
    (dist / "assets" / "app.js").write_text("console.log('page')")
    return dist


@pytest.fixture
async def sink() -> AsyncIterator[str]:
    """A stand-in for the sink's health server: /status and /metrics over real HTTP."""

    async def status(_request: web.Request) -> web.Response:
        return web.Response(body=STATUS, content_type="application/json")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=METRICS, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _client(source: Path, status_url: str, static_dir: Path) -> TestClient[Any, Any]:
    options = DashboardOptions(status_url=status_url, static_dir=static_dir)
    client: TestClient[Any, Any] = TestClient(TestServer(Dashboard(DuckDBGold(source), options).app))
    await client.start_server()
    return client


@pytest.fixture
async def api(warehouse: Path, sink: str, static: Path) -> AsyncIterator[TestClient[Any, Any]]:
    client = await _client(warehouse, sink, static)
    try:
        yield client
    finally:
        await client.close()


async def _get(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.json()


async def test_summary_totals_sales_and_weights_on_time_by_delivered_orders(
    api: TestClient[Any, Any],
) -> None:
    doc = await _get(api, "/api/gold/summary")
    assert doc == {
        "orders": 7,
        "gmv": pytest.approx(970.75),
        "first_day": "2018-01-01",
        "last_day": "2018-01-03",
        "delivered_orders": 17,
        "on_time_rate": pytest.approx((3 + 3 + 2 + 4) / 17),
    }


async def test_sales_by_day_in_date_order_and_by_state_by_gmv(api: TestClient[Any, Any]) -> None:
    doc = await _get(api, "/api/gold/sales")
    assert doc["grain"] == "day"
    assert doc["by_period"] == [
        {"start": "2018-01-01", "orders": 2, "gmv": 120.0},
        {"start": "2018-01-02", "orders": 4, "gmv": 350.75},
        {"start": "2018-01-03", "orders": 1, "gmv": 500.0},
    ]
    assert doc["by_state"] == [
        {"state": "MG", "orders": 1, "gmv": 500.0},
        {"state": "SP", "orders": 5, "gmv": 420.5},
        {"state": "RJ", "orders": 1, "gmv": 50.25},
    ]
    assert await _get(api, "/api/gold/sales?grain=day") == doc


async def test_sales_by_week_and_by_month_sum_the_days_of_each_period(
    warehouse: Path, sink: str, static: Path
) -> None:
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as built; use built")
        # 2017-12-31 is a Sunday: its week began on Monday 2017-12-25, in another month and year.
        con.execute("insert into gold.agg_daily_sales values ('2017-12-31', 'SP', 5, 1000.0)")
        con.execute("insert into gold.agg_daily_sales values ('2018-01-08', 'RJ', 1, 8.0)")
    client = await _client(warehouse, sink, static)
    try:
        week = await _get(client, "/api/gold/sales?grain=week")
        month = await _get(client, "/api/gold/sales?grain=month")
    finally:
        await client.close()
    assert week["grain"] == "week"
    assert week["by_period"] == [
        {"start": "2017-12-25", "orders": 5, "gmv": 1000.0},
        {"start": "2018-01-01", "orders": 7, "gmv": 970.75},
        {"start": "2018-01-08", "orders": 1, "gmv": 8.0},
    ]
    assert month["by_period"] == [
        {"start": "2017-12-01", "orders": 5, "gmv": 1000.0},
        {"start": "2018-01-01", "orders": 8, "gmv": 978.75},
    ]
    assert week["by_state"] == month["by_state"]


@pytest.mark.parametrize("grain", ["year", "DAY", "", "week;drop table x"])
async def test_an_unknown_grain_is_a_bad_request_naming_the_grains(
    api: TestClient[Any, Any], grain: str
) -> None:
    doc = await _get(api, f"/api/gold/sales?grain={grain}", 400)
    assert doc["error"] == "bad_request"
    assert "day, week, month" in doc["message"]


async def test_delivery_ranks_states_by_on_time_rate_and_averages_days_late_over_late_orders(
    api: TestClient[Any, Any],
) -> None:
    doc = await _get(api, "/api/gold/delivery")
    states = doc["by_state"]
    assert [s["state"] for s in states] == ["RJ", "MG", "SP"]
    rj, mg, sp = states
    assert rj == {"state": "RJ", "delivered_orders": 2, "on_time_rate": 1.0, "avg_days_late": None}
    assert mg["on_time_rate"] == pytest.approx(0.8) and mg["avg_days_late"] == pytest.approx(1.0)
    # SP: 1 late order 2 days late in January, 3 late orders 4 days late in February.
    assert sp["delivered_orders"] == 10
    assert sp["on_time_rate"] == pytest.approx(0.6)
    assert sp["avg_days_late"] == pytest.approx((1 * 2.0 + 3 * 4.0) / 4)


async def test_sellers_by_revenue_then_orders_with_their_scorecard(api: TestClient[Any, Any]) -> None:
    doc = await _get(api, "/api/gold/sellers?limit=3")
    assert [s["seller_id"] for s in doc["sellers"]] == ["s-top", "s-tie", "s-mid"]
    assert doc["sellers"][0] == {
        "seller_id": "s-top",
        "city": "rio de janeiro",
        "state": "RJ",
        "revenue": 900.0,
        "orders": 7,
        "items": 9,
        "avg_review_score": 3.25,
        "late_shipping_rate": 0.5,
    }
    assert doc["sellers"][2]["avg_review_score"] is None
    assert len((await _get(api, "/api/gold/sellers"))["sellers"]) == 4


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
async def test_sellers_limit_out_of_range_is_a_bad_request(api: TestClient[Any, Any], limit: str) -> None:
    doc = await _get(api, f"/api/gold/sellers?limit={limit}", 400)
    assert doc["error"] == "bad_request"


async def test_reviews_count_every_score_and_leave_unreviewed_orders_out(api: TestClient[Any, Any]) -> None:
    doc = await _get(api, "/api/gold/reviews")
    assert doc == {
        "scores": [
            {"score": 1, "orders": 1},
            {"score": 2, "orders": 0},
            {"score": 3, "orders": 0},
            {"score": 4, "orders": 1},
            {"score": 5, "orders": 2},
        ],
        "total": 4,
    }


async def test_no_warehouse_file_says_gold_is_not_built(tmp_path: Path, sink: str, static: Path) -> None:
    client = await _client(tmp_path / "missing.duckdb", sink, static)
    try:
        doc = await _get(client, "/api/gold/summary", 503)
    finally:
        await client.close()
    assert doc["error"] == "gold_not_built"
    assert "nexus transform" in doc["message"]


async def test_a_warehouse_without_gold_tables_says_gold_is_not_built(
    tmp_path: Path, sink: str, static: Path
) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    client = await _client(empty, sink, static)
    try:
        for view in ("summary", "sales", "delivery", "sellers", "reviews"):
            doc = await _get(client, f"/api/gold/{view}", 503)
            assert doc["error"] == "gold_not_built", view
    finally:
        await client.close()


@pytest.fixture
def writer(warehouse: Path) -> Iterator[None]:
    """Another process holding the warehouse open for writing, as a running transform does."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(warehouse)!r})\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


async def test_a_warehouse_locked_by_a_writer_is_unavailable_not_broken(
    api: TestClient[Any, Any], writer: None
) -> None:
    doc = await _get(api, "/api/gold/summary", 503)
    assert doc["error"] == "gold_unavailable"


def _fingerprint(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


async def test_reads_leave_the_warehouse_unchanged(api: TestClient[Any, Any], warehouse: Path) -> None:
    before = _fingerprint(warehouse)
    for view in ("summary", "sales", "delivery", "sellers", "reviews"):
        await _get(api, f"/api/gold/{view}")
    assert _fingerprint(warehouse) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_only_reads_are_allowed(api: TestClient[Any, Any], method: str) -> None:
    for path in ("/api/gold/summary", "/status", "/metrics", "/"):
        response = await api.request(method, path)
        assert response.status == 405, (method, path)


async def test_status_and_metrics_pass_through_from_the_sink(api: TestClient[Any, Any]) -> None:
    status = await api.get("/status")
    assert status.status == 200 and await status.read() == STATUS
    assert status.content_type == "application/json"
    metrics = await api.get("/metrics")
    assert metrics.status == 200 and await metrics.read() == METRICS


async def test_a_sink_that_does_not_answer_is_reported_as_unreachable(warehouse: Path, static: Path) -> None:
    from keystone_nexus.dev.stack import free_port

    client = await _client(warehouse, f"http://127.0.0.1:{free_port()}", static)
    try:
        for path in ("/status", "/metrics"):
            doc = await _get(client, path, 502)
            assert doc["error"] == "sink_unreachable"
            assert path in doc["message"]
    finally:
        await client.close()


async def test_page_assets_and_security_headers(api: TestClient[Any, Any]) -> None:
    page = await api.get("/")
    assert page.status == 200 and "Keystone Nexus" in await page.text()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    asset = await api.get("/assets/app.js")
    assert asset.status == 200 and await asset.text() == "console.log('page')"
    summary = await api.get("/api/gold/summary")
    assert summary.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in summary.headers


async def test_an_unbuilt_page_says_how_to_build_it(warehouse: Path, sink: str, tmp_path: Path) -> None:
    client = await _client(warehouse, sink, tmp_path / "no-dist")
    try:
        page = await client.get("/")
        assert page.status == 503
        assert "make dashboard" in await page.text()
    finally:
        await client.close()


async def test_about_names_the_sources_without_secrets(api: TestClient[Any, Any], warehouse: Path) -> None:
    doc = await _get(api, "/api/about")
    assert doc["gold"] == f"duckdb:{warehouse}"
    assert set(doc) == {"version", "gold", "sink", "ledger"}
    assert doc["ledger"] is None  # no state.dsn: no ledger
