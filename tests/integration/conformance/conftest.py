"""The ingestion servers' conformance suite: every test here runs against the Python twin
(`nexus ingest serve`) and the C++ server (ingestion_cpp/build/olist_ingestion_enterprise)
alike, both on the session's broker (tests/integration/conftest.py) with the same schema
version ids. A test asks for `server` (the session's server of its kind) or `launch` (a
server of its own, with its own settings); `kind` says which server it is, "twin" or "cpp".

What only the C++ server does (its `starting` line, systemd's notify protocol) is in
ingestion_cpp/tests/test_e2e.py; the twin has nothing of its own left to test as a server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.ingest.client import IngestClient, record_event
from keystone_nexus.olist.generate import generate
from tests.integration.ingestkit import (
    SERVER_KINDS,
    ServerProcess,
    server_command,
    server_env,
    sync_schema_ids,
)

# The session's servers take at most this many events per request message.
MAX_BATCH_EVENTS = 1000
MD5 = "0123456789abcdef0123456789abcdef"

Launch = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def schema_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One `nexus schemas sync --ids-out` for both servers: (its file, {schema: version id})."""
    return sync_schema_ids(tmp_path_factory.mktemp("conformance-registry"))


@pytest.fixture(scope="session", params=SERVER_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which server the test runs against; session-scoped, so pytest runs every test of
    one server, then every test of the other, and starts each session server once."""
    return str(request.param)


@pytest.fixture(scope="session")
def server(kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]) -> Iterator[ServerProcess]:
    """The session's server of `kind`: --max-batch-events 1000, /metrics on a free port."""
    command = server_command(
        kind,
        stack.bootstrap_servers,
        schema_ids[0],
        "--max-batch-events",
        str(MAX_BATCH_EVENTS),
        "--metrics-listen",
        "127.0.0.1:0",
    )
    process = ServerProcess(command, env=server_env())
    yield process
    assert process.stop() == 0, process.logs[-5:]


@pytest.fixture()
def launch(kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]) -> Iterator[Launch]:
    """Starts servers of `kind` of the test's own: launch(*flags, settings={NEXUS_...: value},
    brokers=...) with the common flags (--listen, --brokers, --schema-ids) and the
    session's broker unless told; each still running is stopped after the test."""
    started: list[ServerProcess] = []

    def start(
        *flags: str, settings: dict[str, str] | None = None, brokers: str | None = None
    ) -> ServerProcess:
        command = server_command(kind, brokers or stack.bootstrap_servers, schema_ids[0], *flags)
        process = ServerProcess(command, env=server_env(settings))
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop()


@pytest.fixture()
def client(server: ServerProcess) -> Iterator[IngestClient]:
    with IngestClient(server.url, timeout_s=120) as c:
        yield c


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated Olist dataset (every entity)."""
    out = tmp_path_factory.mktemp("olist")
    generate(out, scale=0.004, seed=11)
    return out


def order_item(n: int, source: str = "conformance", **overrides: Any) -> olist_pb2.Event:
    """A valid order item (with a fresh event id) unless `overrides` make it otherwise."""
    record: dict[str, Any] = {
        "order_id": f"{n:032x}",
        "order_item_id": 1 + n % 3,
        "product_id": MD5,
        "seller_id": MD5,
        "shipping_limit_date": "2017-09-19 09:45:35",
        "price": 58.9 + n,
        "freight_value": 13.29,
        **overrides,
    }
    event: olist_pb2.Event = record_event(
        contracts.entity("order_items"), record, event_id=str(uuid.uuid4()), source=source
    )
    return event


def review(n: int) -> olist_pb2.Event:
    """A valid review with non-ASCII text and quotes (JSON escaping)."""
    event: olist_pb2.Event = record_event(
        contracts.entity("reviews"),
        {
            "review_id": f"{n:032x}",
            "order_id": f"{n + 1:032x}",
            "review_score": 5,
            "review_comment_message": 'Ótimo "produto"\n',
            "review_creation_date": "2018-01-18 00:00:00",
        },
        event_id=str(uuid.uuid4()),
        source="conformance",
    )
    return event


def bad_events() -> list[tuple[olist_pb2.Event, str]]:
    """(event, its whole reason) for each kind of bad input the checks know."""
    no_id = order_item(900)
    no_id.event_id = ""
    mismatch = order_item(901)
    mismatch.entity = olist_pb2.ENTITY_ORDERS
    unknown = order_item(902)
    unknown.entity = 42  # type: ignore[assignment]  # proto3 enums are open: a newer client's entity
    unspecified = order_item(906)
    unspecified.entity = olist_pb2.ENTITY_UNSPECIFIED
    empty = olist_pb2.Event(event_id=str(uuid.uuid4()), entity=olist_pb2.ENTITY_ORDERS)
    return [
        (no_id, "event_id: is required"),
        (mismatch, "entity: ENTITY_ORDERS does not match the order_item payload (ENTITY_ORDER_ITEMS)"),
        (unknown, "entity: unknown value 42"),
        (unspecified, "entity: is required (ENTITY_ORDER_ITEMS for a order_item payload)"),
        (empty, "payload: no record set (set exactly one of the payload fields)"),
        (
            order_item(903, order_id="NOT-AN-MD5"),
            'order_id: must be an md5_id (32 lower-case hex characters), got "NOT-AN-MD5"',
        ),
        (order_item(904, price=-1.0), "price: -1 is less than the minimum 0"),
        (order_item(905, order_item_id=0), "order_item_id: 0 is less than the minimum 1"),
        (
            order_item(907, shipping_limit_date="2017-09-19"),
            'shipping_limit_date: must be a timestamp YYYY-MM-DD HH:MM:SS, got "2017-09-19"',
        ),
        (order_item(908, freight_value=float("nan")), "freight_value: must be a finite number"),
    ]
