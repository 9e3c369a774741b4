"""The dashboard's pipeline routes over a fake ledger (the SQL is tested against the real
PostgreSQL in tests/integration/test_dashboard_ledger.py): the documents, the limits, the
state database's failures as JSON errors, and a dashboard without state.dsn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from keystone_nexus.dashboard import Dashboard, DashboardOptions, DuckDBGold, PostgresLedger
from keystone_nexus.dashboard.pipeline import batches_doc, freshness_doc, runs_doc
from keystone_nexus.errors import StateError, StateNotMigratedError, StateUnavailableError
from keystone_nexus.state.freshness import TopicFreshness

pytestmark = pytest.mark.asyncio(loop_scope="session")

ORDERS, PAYMENTS = "olist.orders.v1", "olist.payments.v1"
T0 = 1_790_000_000.0


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


BATCH = {
    "topic": ORDERS,
    "partition": 2,
    "first_offset": 100,
    "last_offset": 149,
    "valid_records": 48,
    "dead_records": 2,
    "skipped_records": 0,
    "objects": [
        {"key": "bronze/orders/a.parquet", "rows": 48, "bytes": 9000},
        {"key": "dlq/b", "rows": 2, "bytes": 700},
    ],
    "owner": "sink-1",
    "committed_at": _at(T0),
    "source": "sink",
}
RUN = {
    "kind": "transform",
    "run_id": "r-7",
    "started_at": _at(T0 - 90),
    "finished_at": _at(T0 - 30),
    "status": "succeeded",
    "summary": {"models": 12},
    "steps": [{"name": "stg_orders"}, {"name": "fct_orders"}],
}


class FakeLedger:
    describe = "postgresql:nexus@db:5432/state"

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.asked: list[tuple[str, Any]] = []
        self.closed = False

    def _answer(self, what: str, arg: Any, rows: Any) -> Any:
        self.asked.append((what, arg))
        if self.failure is not None:
            raise self.failure
        return rows

    async def freshness(self, *, now: float, window_s: float) -> list[TopicFreshness]:
        rows = [
            TopicFreshness(ORDERS, 3, now - 42.5, 4, 180, 2),
            TopicFreshness("other.topic", 1, now - 7200, 0, 0, 0),
        ]
        return self._answer("freshness", (now, window_s), rows)  # type: ignore[no-any-return]

    async def batches(self, limit: int) -> list[dict[str, Any]]:
        return self._answer("batches", limit, [BATCH])  # type: ignore[no-any-return]

    async def runs(self, limit: int) -> list[dict[str, Any]]:
        return self._answer("runs", limit, [RUN])  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.closed = True


async def _client(tmp_path: Path, ledger: Any) -> TestClient[Any, Any]:
    options = DashboardOptions(
        status_url="http://127.0.0.1:9", static_dir=tmp_path, topics=(ORDERS, PAYMENTS)
    )
    dashboard = Dashboard(DuckDBGold(tmp_path / "w.duckdb"), options, ledger)
    client: TestClient[Any, Any] = TestClient(TestServer(dashboard.app))
    await client.start_server()
    return client


@pytest.fixture
async def fake() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
async def api(tmp_path: Path, fake: FakeLedger) -> AsyncIterator[TestClient[Any, Any]]:
    client = await _client(tmp_path, fake)
    try:
        yield client
    finally:
        await client.close()


async def _get(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    return await response.json()


async def test_freshness_lists_every_expected_topic_and_says_how_long_ago(
    api: TestClient[Any, Any], fake: FakeLedger
) -> None:
    doc = await _get(api, "/api/pipeline/freshness")
    [(what, (now, window_s))] = fake.asked
    assert what == "freshness" and window_s == 3600 and doc["now"] == now and doc["window_s"] == 3600
    by_topic = {t["topic"]: t for t in doc["topics"]}
    assert list(by_topic) == sorted([ORDERS, PAYMENTS, "other.topic"])
    assert by_topic[ORDERS] == {
        "topic": ORDERS,
        "entity": "orders",
        "partitions": 3,
        "last_committed_at": pytest.approx(now - 42.5),
        "seconds_since": pytest.approx(42.5),
        "batches": 4,
        "records": 180,
        "dead_letters": 2,
    }
    # Expected, never committed: listed, with nothing.
    assert by_topic[PAYMENTS]["entity"] == "payments"
    assert by_topic[PAYMENTS]["last_committed_at"] is None and by_topic[PAYMENTS]["seconds_since"] is None
    assert (by_topic[PAYMENTS]["batches"], by_topic[PAYMENTS]["records"]) == (0, 0)
    # In the ledger but not a contract topic: listed, without an entity.
    assert by_topic["other.topic"]["entity"] is None
    assert by_topic["other.topic"]["seconds_since"] == pytest.approx(7200)


async def test_batches_and_runs_pass_their_limits_and_shape_the_rows(
    api: TestClient[Any, Any], fake: FakeLedger
) -> None:
    batches = await _get(api, "/api/pipeline/batches")
    runs = await _get(api, "/api/pipeline/runs?limit=3")
    await _get(api, "/api/pipeline/batches?limit=200")
    assert fake.asked == [("batches", 20), ("runs", 3), ("batches", 200)]
    assert batches == {
        "batches": [
            {
                "topic": ORDERS,
                "partition": 2,
                "first_offset": 100,
                "last_offset": 149,
                "valid_records": 48,
                "dead_records": 2,
                "skipped_records": 0,
                "objects": 2,
                "bytes": 9700,
                "owner": "sink-1",
                "committed_at": T0,
                "source": "sink",
            }
        ]
    }
    assert runs == {
        "runs": [
            {
                "kind": "transform",
                "run_id": "r-7",
                "status": "succeeded",
                "started_at": T0 - 90,
                "finished_at": T0 - 30,
                "duration_s": 60.0,
                "steps": 2,
                "summary": {"models": 12},
            }
        ]
    }


@pytest.mark.parametrize(
    ("path", "limit"),
    [("batches", "0"), ("batches", "201"), ("batches", "x"), ("runs", "101"), ("runs", "-1")],
)
async def test_a_limit_out_of_range_is_a_bad_request(
    api: TestClient[Any, Any], fake: FakeLedger, path: str, limit: str
) -> None:
    doc = await _get(api, f"/api/pipeline/{path}?limit={limit}", 400)
    assert doc["error"] == "bad_request" and "limit must be a whole number from 1 to" in doc["message"]
    assert fake.asked == []


async def test_without_state_dsn_every_pipeline_route_says_it_is_not_configured(tmp_path: Path) -> None:
    client = await _client(tmp_path, None)
    try:
        for route in ("freshness", "batches", "runs"):
            doc = await _get(client, f"/api/pipeline/{route}", 503)
            assert doc["error"] == "state_not_configured", route
            assert "NEXUS_STATE__DSN is not set" in doc["message"]
        assert (await _get(client, "/api/about"))["ledger"] is None
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("failure", "status", "kind"),
    [
        (StateUnavailableError("PostgreSQL at db:5432/state is unreachable"), 503, "state_unavailable"),
        (StateNotMigratedError("no ledger tables: run `nexus state migrate`"), 503, "state_not_migrated"),
        (StateError("permission denied for schema nexus"), 500, "state_failed"),
    ],
)
async def test_state_database_failures_are_json_errors(
    tmp_path: Path, failure: Exception, status: int, kind: str
) -> None:
    client = await _client(tmp_path, FakeLedger(failure))
    try:
        for route in ("freshness", "batches", "runs"):
            doc = await _get(client, f"/api/pipeline/{route}", status)
            assert doc == {"error": kind, "message": str(failure)}, route
    finally:
        await client.close()


async def test_about_names_the_ledger_without_its_password(api: TestClient[Any, Any]) -> None:
    assert (await _get(api, "/api/about"))["ledger"] == "postgresql:nexus@db:5432/state"


async def test_an_unreachable_state_database_is_unavailable_and_tried_again() -> None:
    from keystone_nexus.dev.stack import free_port
    from keystone_nexus.state.db import connect, describe

    dsn = f"postgresql://nexus:secret@127.0.0.1:{free_port()}/state"
    ledger = PostgresLedger(lambda: connect(dsn, connect_timeout_s=2), describe=describe(dsn))
    for _ in range(2):  # no connection is kept from a failed attempt: the second tries again
        with pytest.raises(StateUnavailableError, match="unreachable") as caught:
            await ledger.batches(5)
        assert "secret" not in str(caught.value)
    await ledger.close()


async def test_a_state_database_that_does_not_answer_in_time_is_unavailable() -> None:
    import asyncio

    async def never() -> Any:
        await asyncio.Event().wait()

    ledger = PostgresLedger(never, describe="db:5432/state", timeout_s=0.05)
    with pytest.raises(StateUnavailableError, match=r"did not answer within"):
        await ledger.freshness(now=T0, window_s=3600)


async def test_documents_of_rows_without_a_finish_or_objects() -> None:
    run = runs_doc([{**RUN, "finished_at": None, "steps": [], "summary": None}])["runs"][0]
    assert (run["finished_at"], run["duration_s"], run["steps"], run["summary"]) == (None, None, 0, {})
    batch = batches_doc([{**BATCH, "objects": []}])["batches"][0]
    assert (batch["objects"], batch["bytes"]) == (0, 0)
    doc = freshness_doc([], now=T0, topics=[PAYMENTS, ORDERS])
    assert [t["topic"] for t in doc["topics"]] == [ORDERS, PAYMENTS]  # by name, whatever the order given
    future = freshness_doc([TopicFreshness(ORDERS, 1, T0 + 5, 1, 1, 0)], now=T0)["topics"][0]
    assert future["seconds_since"] == 0.0  # a sink clock ahead of the dashboard's: not negative
