"""The Python ingestion server (`nexus ingest serve`) against the real local broker, and
the client and `nexus replay --via` against both servers.

A generated Olist dataset goes through the twin; every topic is read back: each accepted
event is there exactly once (by its event_id header), with the Glue header of its
entity's schema version and exactly the bytes keystone_nexus.contracts.events writes; each
rejected event was answered with its reason. Bad input (unknown entity, invalid fields,
oversize batches, malformed protobuf, a client leaving mid-stream, a full producer
queue) is answered and the server keeps serving. /metrics counts exactly what was
answered, with the C++ server's series, and a taken metrics port stops the start only
when it was chosen. `replay --via` through the twin and through the C++ server writes
the same records.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from keystone.olist.v1 import ingestion_pb2, olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.events import to_event
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient, record_event
from keystone_nexus.ingest.service import EXHAUSTED_REASON
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, dataset_file, read
from tests.integration.conftest import INTEGRATION_PARTITIONS, free_port
from tests.integration.ingestkit import (
    CPP_SERVER,
    NEXUS,
    Read,
    ServerProcess,
    cpp_command,
    default_metrics_port_taken,
    read_back,
    scrape_metrics,
    sync_schema_ids,
    twin_command,
)

pytestmark = pytest.mark.integration

MAX_BATCH_EVENTS = 1000
TOPICS = list(contracts.topics())
MD5 = "0123456789abcdef0123456789abcdef"


def order_item(n: int, **overrides: Any) -> olist_pb2.Event:
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
        contracts.entity("order_items"), record, event_id=str(uuid.uuid4()), source="twin-test"
    )
    return event


def bad_events() -> list[tuple[olist_pb2.Event, str]]:
    """(event, its reason) for each kind of bad input the checks know."""
    no_id = order_item(900)
    no_id.event_id = ""
    mismatch = order_item(901)
    mismatch.entity = olist_pb2.ENTITY_ORDERS
    unknown = order_item(902)
    unknown.entity = 42  # type: ignore[assignment]
    empty = olist_pb2.Event(event_id=str(uuid.uuid4()), entity=olist_pb2.ENTITY_ORDERS)
    return [
        (no_id, "event_id: is required"),
        (mismatch, "entity: ENTITY_ORDERS does not match the order_item payload (ENTITY_ORDER_ITEMS)"),
        (unknown, "entity: unknown value 42"),
        (empty, "payload: no record set (set exactly one of the payload fields)"),
        (
            order_item(903, order_id="NOT-AN-MD5"),
            'order_id: must be an md5_id (32 lower-case hex characters), got "NOT-AN-MD5"',
        ),
        (order_item(904, price=-1.0), "price: -1 is less than the minimum 0"),
        (order_item(905, order_item_id=0), "order_item_id: 0 is less than the minimum 1"),
    ]


# --------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def schema_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return sync_schema_ids(tmp_path_factory.mktemp("twin-registry"))


@pytest.fixture(scope="module")
def twin(stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]) -> Iterator[ServerProcess]:
    server = ServerProcess(
        twin_command(stack.bootstrap_servers, schema_ids[0], "--max-batch-events", str(MAX_BATCH_EVENTS))
    )
    yield server
    assert server.stop() == 0, server.logs[-5:]


@pytest.fixture()
def client(twin: ServerProcess) -> Iterator[IngestClient]:
    with IngestClient(twin.url, timeout_s=120) as c:
        yield c


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("olist")
    generate(out, scale=0.004, seed=11)
    return out


def dataset_events(directory: Path) -> list[tuple[contracts.EntitySpec, dict[str, Any], olist_pb2.Event]]:
    out = []
    for spec in contracts.entities():
        path, fmt = dataset_file(directory, spec)
        for row in read(path, spec, fmt, validate=False):
            assert isinstance(row, Row), row
            event = record_event(spec, row.record, event_id=str(uuid.uuid4()), source="twin-dataset")
            out.append((spec, row.record, event))
    return out


def by_event_id(reads: list[Read]) -> dict[str, list[Read]]:
    found: dict[str, list[Read]] = {}
    for r in reads:
        found.setdefault(r.event_id, []).append(r)
    return found


# ------------------------------------------------------------------------ tests


def test_health_serving_and_reflection(twin: ServerProcess) -> None:
    with grpc.insecure_channel(twin.address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        # HealthCheckRequest{service=""} is empty; HealthCheckResponse{status=SERVING(1)}.
        assert check(b"", timeout=5) == b"\x08\x01"
        # ServerReflectionRequest{list_services=""} (field 7) over the bidi stream.
        info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        answer = b"".join(info(iter([b"\x3a\x00"]), timeout=5))
    assert b"keystone.olist.v1.IngestionService" in answer
    assert b"grpc.health.v1.Health" in answer


def test_a_generated_dataset_through_the_twin(
    twin: ServerProcess,
    client: IngestClient,
    stack: StackInfo,
    schema_ids: tuple[Path, dict[str, str]],
    dataset: Path,
) -> None:
    items = dataset_events(dataset)
    bad = bad_events()
    events = [e for _, _, e in items]
    # The bad events sit among the good ones, in the second batch of 500.
    events[600:600] = [e for e, _ in bad]
    batches = [events[i : i + 500] for i in range(0, len(events), 500)]
    result = client.publish_stream(batches)

    # A stream's answer: the counts, and a result for each rejected event only.
    assert (result.accepted, result.rejected) == (len(items), len(bad))
    answers = [(r.index, r.event_id, r.accepted, r.reason) for r in result.results]
    assert answers == [(600 + i, e.event_id, False, why) for i, (e, why) in enumerate(bad)]

    accepted = {e.event_id for _, _, e in items}
    wanted = accepted | {e.event_id for e, _ in bad}
    found = read_back(
        stack.bootstrap_servers, TOPICS, INTEGRATION_PARTITIONS, lambda r: r.event_id in wanted, len(items)
    )
    reads = by_event_id(found)
    assert set(reads) == set(accepted), "every accepted event is in Kafka, and nothing else"
    duplicates = {k: len(v) for k, v in reads.items() if len(v) > 1}
    assert not duplicates, f"events written more than once: {list(duplicates.items())[:5]}"
    ids = schema_ids[1]
    per_topic: Counter[str] = Counter()
    for spec, record, event in items:
        (msg,) = reads[event.event_id]
        assert msg.value[:2] == b"\x03\x00"
        assert wire.decode(msg.value).schema_version_id == uuid.UUID(ids[spec.schema_name])
        expected = to_event(
            spec, record, uuid.UUID(ids[spec.schema_name]), event_id=event.event_id, source="twin-dataset"
        )
        assert (msg.topic, msg.key, msg.value) == (expected.topic, expected.key, expected.value)
        assert msg.headers == dict(expected.headers)
        per_topic[msg.topic] += 1
    assert set(per_topic) == set(TOPICS), "every entity of the dataset went through"


def test_bad_events_in_a_unary_batch_do_not_fail_their_batch_mates(client: IngestClient) -> None:
    bad = bad_events()
    good = [order_item(i) for i in range(10)]
    result = client.publish(good[:5] + [e for e, _ in bad] + good[5:])
    assert (result.accepted, result.rejected) == (10, len(bad))
    assert [(r.event_id, r.reason) for r in result.rejections()] == [(e.event_id, why) for e, why in bad]
    assert all(r.topic == "olist.order_items.v1" and r.offset >= 0 for r in result.results if r.accepted)


def test_oversize_batch_is_refused_and_the_server_keeps_serving(
    twin: ServerProcess, client: IngestClient
) -> None:
    with pytest.raises(IngestError) as err:
        client.publish([order_item(i) for i in range(MAX_BATCH_EVENTS + 1)])
    assert err.value.code == "INVALID_ARGUMENT" and not err.value.retriable
    assert f"batch of {MAX_BATCH_EVENTS + 1} events is over the limit of {MAX_BATCH_EVENTS}; split it" in str(
        err.value
    )
    # In a stream, the oversize message's events are rejected and the stream goes on.
    batches = [
        [order_item(i) for i in range(3)],
        [order_item(i) for i in range(MAX_BATCH_EVENTS + 1)],
        [order_item(7)],
    ]
    result = client.publish_stream(batches)
    assert (result.accepted, result.rejected) == (4, MAX_BATCH_EVENTS + 1)
    reason = f"stream message of {MAX_BATCH_EVENTS + 1} events is over the limit of {MAX_BATCH_EVENTS} per message; split it"
    assert [(r.index, r.reason) for r in result.results] == [
        (3 + i, reason) for i in range(MAX_BATCH_EVENTS + 1)
    ]
    assert client.publish([order_item(1)]).accepted == 1


def test_malformed_protobuf_is_refused_and_the_server_keeps_serving(
    twin: ServerProcess, client: IngestClient
) -> None:
    with grpc.insecure_channel(twin.address) as channel:
        raw = channel.unary_unary("/keystone.olist.v1.IngestionService/Publish")
        with pytest.raises(grpc.RpcError) as err:
            raw(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=5)
    assert err.value.code() != grpc.StatusCode.OK
    assert client.publish([order_item(2)]).accepted == 1


def test_a_client_that_disconnects_mid_stream(twin: ServerProcess, client: IngestClient) -> None:
    before = len(twin.events("publish_stream_cancelled"))

    def requests() -> Iterator[ingestion_pb2.PublishRequest]:
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])
        time.sleep(0.5)
        future.cancel()
        time.sleep(0.5)
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])

    with grpc.insecure_channel(twin.address) as channel:
        call = channel.stream_unary(
            "/keystone.olist.v1.IngestionService/PublishStream",
            request_serializer=ingestion_pb2.PublishRequest.SerializeToString,
            response_deserializer=ingestion_pb2.PublishResponse.FromString,
        )
        future = call.future(requests(), timeout=30)
        with pytest.raises(grpc.FutureCancelledError):
            future.result()
    deadline = time.monotonic() + 10
    while len(twin.events("publish_stream_cancelled")) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(twin.events("publish_stream_cancelled")) == before + 1
    assert client.publish([order_item(3)]).accepted == 1


def test_a_full_producer_queue_is_answered_resource_exhausted(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    env = {**os.environ, "NEXUS_INGEST__QUEUE_FULL_TIMEOUT_MS": "0"}
    server = ServerProcess(
        twin_command(stack.bootstrap_servers, schema_ids[0], "-X", "queue.buffering.max.messages=1"), env=env
    )
    try:
        with IngestClient(server.url) as c:
            result = c.publish([order_item(i) for i in range(50)])
            assert result.accepted >= 1
            assert result.accepted + result.rejected == 50
            rejected = result.rejections()
            assert rejected and {r.reason for r in rejected} == {EXHAUSTED_REASON}
            # Once refused, the rest of the call is refused too: the accepted ones come first.
            first_refused = rejected[0].index
            assert all(r.accepted for r in result.results[:first_refused])
            assert not any(r.accepted for r in result.results[first_refused:])
    finally:
        assert server.stop() == 0
    stopped = server.events("stopped")[0]
    assert stopped["events_rejected_queue_full_total"] == result.rejected


def test_sigterm_lets_an_in_flight_stream_finish_and_flushes(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    server = ServerProcess(twin_command(stack.bootstrap_servers, schema_ids[0]))
    first_sent = threading.Event()

    def batches() -> Iterator[list[olist_pb2.Event]]:
        yield [order_item(i) for i in range(100)]
        first_sent.set()
        time.sleep(1.5)  # SIGTERM arrives here
        yield [order_item(i) for i in range(100)]

    with IngestClient(server.url) as c:
        answer: list[Any] = []
        sender = threading.Thread(target=lambda: answer.append(c.publish_stream(batches())))
        sender.start()
        assert first_sent.wait(10)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        sender.join(30)
    assert answer and (answer[0].accepted, answer[0].rejected) == (200, 0)
    assert server.stop() == 0
    stopped = server.events("stopped")[0]
    assert (stopped["unflushed"], stopped["events_accepted_total"]) == (0, 200)


# --------------------------------------------------------------------- /metrics

LATENCY = "nexus_ingest_request_duration_seconds"
# The C++ server's buckets, written as it writes them.
LATENCY_LE = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"]
LATENCY_LE += ["10", "60", "+Inf"]


def test_metrics_endpoint_counts_what_was_answered(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    server = ServerProcess(
        twin_command(
            stack.bootstrap_servers,
            schema_ids[0],
            "--max-batch-events",
            str(MAX_BATCH_EVENTS),
            "--metrics-listen",
            "127.0.0.1:0",
        )
    )
    try:
        assert server.metrics_port > 0
        before = scrape_metrics(server.metrics_port)
        assert {k: v for k, v in before.items() if v and k != "nexus_ingest_kafka_queue_messages"} == {}
        bad = [e for e, _ in bad_events()]
        with IngestClient(server.url) as c:
            unary = c.publish([order_item(i) for i in range(20)] + bad)
            assert (unary.accepted, unary.rejected) == (20, len(bad))
            stream = c.publish_stream(
                [
                    [order_item(i) for i in range(30)] + bad[:2],
                    [order_item(i) for i in range(MAX_BATCH_EVENTS + 1)],  # rejected: over the limit
                    [order_item(7)],
                ]
            )
            assert (stream.accepted, stream.rejected) == (31, 2 + MAX_BATCH_EVENTS + 1)
            with pytest.raises(IngestError, match="over the limit"):  # counted, but not timed
                c.publish([order_item(i) for i in range(MAX_BATCH_EVENTS + 1)])
        after = scrape_metrics(server.metrics_port)
        deadline = time.monotonic() + 10  # every report is in; the queue may need a poll to say so
        while after["nexus_ingest_kafka_queue_messages"] and time.monotonic() < deadline:
            time.sleep(0.1)
            after = scrape_metrics(server.metrics_port)
    finally:
        assert server.stop() == 0

    assert {k: v for k, v in after.items() if not k.startswith(LATENCY)} == {
        'nexus_ingest_calls_total{method="Publish"}': 2,
        'nexus_ingest_calls_total{method="PublishStream"}': 1,
        "nexus_ingest_events_accepted_total": 51,
        'nexus_ingest_events_rejected_total{reason="invalid"}': len(bad) + 2 + MAX_BATCH_EVENTS + 1,
        'nexus_ingest_events_rejected_total{reason="queue_full"}': 0,
        'nexus_ingest_events_rejected_total{reason="delivery"}': 0,
        "nexus_ingest_kafka_produced_total": 51,
        "nexus_ingest_kafka_delivery_errors_total": 0,
        "nexus_ingest_kafka_queue_messages": 0,
    }
    for method in ("Publish", "PublishStream"):
        buckets = {
            k.split('"')[1]: v
            for k, v in after.items()
            if k.startswith(f"{LATENCY}_bucket{{") and k.endswith(f',method="{method}"}}')
        }
        assert list(buckets) == LATENCY_LE
        counts = list(buckets.values())
        assert counts == sorted(counts), "buckets are cumulative"
        assert counts[-1] == after[f'{LATENCY}_count{{method="{method}"}}'] == 1
        assert 0 < after[f'{LATENCY}_sum{{method="{method}"}}'] < 60
    stopped = server.events("stopped")[0]
    assert (stopped["kafka_delivered_total"], stopped["calls_publish_total"]) == (51, 2)


def test_the_twin_and_the_cpp_server_expose_the_same_series(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    assert CPP_SERVER.exists(), f"{CPP_SERVER} is not built; `make test` builds it (or `make cpp`)"
    series = {}
    for kind, command in (("twin", twin_command), ("cpp", cpp_command)):
        server = ServerProcess(
            command(stack.bootstrap_servers, schema_ids[0], "--metrics-listen", "127.0.0.1:0")
        )
        try:
            series[kind] = set(scrape_metrics(server.metrics_port))
        finally:
            assert server.stop() == 0
    assert series["twin"] == series["cpp"], "one dashboard serves both servers"
    assert len(series["twin"]) == 9 + 2 * (len(LATENCY_LE) + 2)


def test_a_taken_metrics_port_is_fatal_when_chosen_and_a_warning_when_default(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEXUS_INGEST__METRICS_LISTEN"}
    command = twin_command(stack.bootstrap_servers, schema_ids[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        chosen = f"127.0.0.1:{taken.getsockname()[1]}"
        # Chosen by flag, then by environment: the start fails and says which address.
        for extra, more_env in (
            (["--metrics-listen", chosen], {}),
            ([], {"NEXUS_INGEST__METRICS_LISTEN": chosen}),
        ):
            done = subprocess.run(
                [*command, *extra], env={**env, **more_env}, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 2, done.stderr
            assert f"nexus: metrics listen address {chosen}: " in done.stderr
            assert "set --metrics-listen HOST:PORT (port 0: any free one) or none" in done.stderr

    with default_metrics_port_taken():
        server = ServerProcess(command, env=env)
        try:
            assert server.metrics_port == 0
            assert "127.0.0.1:9464" in server.events("metrics_disabled")[0]["error"]
            with IngestClient(server.url) as c:
                assert c.publish([order_item(60)]).accepted == 1
        finally:
            assert server.stop() == 0


# ------------------------------------------- replay --via, through both servers


def replay_via(url: str, dataset: Path, *extra: str) -> dict[str, int]:
    done = subprocess.run(
        [*NEXUS, "replay", "--from", str(dataset), "--via", url, "--no-progress", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", done.stdout, re.M)
    assert total, done.stdout
    sent, accepted, rejected = (int(x.replace(",", "")) for x in total.groups())
    return {"sent": sent, "accepted": accepted, "rejected": rejected}


def dataset_rows(dataset: Path) -> int:
    rows = 0
    for spec in contracts.entities():
        path, fmt = dataset_file(dataset, spec)
        rows += sum(1 for _ in read(path, spec, fmt, validate=False))
    return rows


def records_written(reads: list[Read]) -> dict[str, tuple[str, bytes, bytes, tuple[tuple[str, bytes], ...]]]:
    found = by_event_id(reads)
    twice = {k: [(r.topic, r.partition, r.offset) for r in v] for k, v in found.items() if len(v) > 1}
    assert not twice, f"{len(twice)} events written more than once, e.g. {list(twice.items())[:3]}"
    return {
        k: (r.topic, r.key, r.value, tuple(sorted((h, v) for h, v in r.headers.items() if h != "source")))
        for k, (r,) in found.items()
    }


def test_replay_via_the_twin_and_the_cpp_server_writes_the_same_records(
    twin: ServerProcess, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]], dataset: Path
) -> None:
    assert CPP_SERVER.exists(), f"{CPP_SERVER} is not built; `make test` builds it (or `make cpp`)"
    rows = dataset_rows(dataset)
    bootstrap = stack.bootstrap_servers
    run = uuid.uuid4().hex[:8]

    # Unary batches through the twin, one stream of batches through the C++ server.
    counts = replay_via(twin.url, dataset, "--batch", "500", "--source", f"twin-{run}")
    assert counts == {"sent": rows, "accepted": rows, "rejected": 0}
    cpp = ServerProcess(cpp_command(bootstrap, schema_ids[0]))
    try:
        counts = replay_via(cpp.url, dataset, "--stream", "--batch", "500", "--source", f"cpp-{run}")
        assert counts == {"sent": rows, "accepted": rows, "rejected": 0}
    finally:
        assert cpp.stop() == 0

    reads = read_back(
        bootstrap,
        TOPICS,
        INTEGRATION_PARTITIONS,
        lambda r: r.headers["source"].endswith(run.encode()),
        2 * rows,
    )
    through_twin = records_written([r for r in reads if r.headers["source"] == f"twin-{run}".encode()])
    through_cpp = records_written([r for r in reads if r.headers["source"] == f"cpp-{run}".encode()])
    assert len(through_twin) == rows
    assert through_twin == through_cpp, "both servers write the same topic, key, value and other headers"


def test_replay_via_reports_rejected_rows_with_file_and_line(
    twin: ServerProcess, tmp_path: Path, dataset: Path
) -> None:
    spec = contracts.entity("orders")
    path, _ = dataset_file(dataset, spec)
    lines = path.read_text().splitlines(keepends=True)[:6]
    # Line 3 (the second data row): an unknown order status, which the server rejects.
    cells = lines[2].split(",")
    cells[2] = '"teleported"'
    lines[2] = ",".join(cells)
    (tmp_path / spec.csv_file).write_text("".join(lines))
    rejects = tmp_path / "rejects.jsonl"
    done = subprocess.run(
        [
            *NEXUS,
            "replay",
            "--from",
            str(tmp_path),
            "--entities",
            "orders",
            "--via",
            twin.url,
            "--stream",
            "--no-progress",
            "--rejects",
            str(rejects),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^total\s+5\s+4\s+1\b", done.stdout, re.M), done.stdout
    assert f"{spec.csv_file}:3: order_status: must be one of" in done.stderr
    assert '"line":3' in rejects.read_text()


def test_serve_takes_its_settings_from_the_environment(
    stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "NEXUS_INGEST__LISTEN": f"127.0.0.1:{port}",
        "NEXUS_INGEST__SCHEMA_IDS": str(schema_ids[0]),
        "NEXUS_INGEST__MAX_BATCH_EVENTS": "5",
        "NEXUS_INGEST__METRICS_LISTEN": "127.0.0.1:0",
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": stack.bootstrap_servers,
    }
    server = ServerProcess([*NEXUS, "ingest", "serve"], env=env)
    try:
        assert server.address == f"127.0.0.1:{port}"
        assert server.metrics_port not in (0, 9464)
        assert scrape_metrics(server.metrics_port)["nexus_ingest_events_accepted_total"] == 0
        with IngestClient(server.url) as c:
            assert c.publish([order_item(i) for i in range(5)]).accepted == 5
            with pytest.raises(IngestError, match="over the limit of 5"):
                c.publish([order_item(i) for i in range(6)])
    finally:
        assert server.stop() == 0
