"""End to end: the built C++ server against a real local broker (Tansu).

Starts a broker (keystone_nexus.dev.stack), writes the schema ids with
`nexus schemas sync --ids-out` (local registry, no AWS), runs
ingestion_cpp/build/olist_ingestion_enterprise, sends events through the Python gRPC
stubs (good ones and bad ones), and reads every topic back: each accepted event is
there exactly once, with the Glue header of its entity's schema version, the key and
headers of keystone_nexus.contracts.events; each rejected event was answered with its reason.

Run:  make cpp && .venv/bin/pytest -q ingestion_cpp/tests/test_e2e.py
Skipped when the server has not been built.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from confluent_kafka import Consumer, TopicPartition

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc, olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from tests.integration.ingestkit import ServerProcess, default_metrics_port_taken

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "ingestion_cpp" / "build" / "olist_ingestion_enterprise"
PARTITIONS = 3
MAX_BATCH_EVENTS = 1000
MAX_STREAM_REJECTIONS = 20


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def order_item(n: int, **overrides: Any) -> olist_pb2.Event:
    fields: dict[str, Any] = {
        "order_id": md5(f"order-{n}"),
        "order_item_id": 1 + n % 3,
        "product_id": md5(f"product-{n}"),
        "seller_id": md5(f"seller-{n % 7}"),
        "shipping_limit_date": "2017-09-19 09:45:35",
        "price": 58.9 + n,
        "freight_value": 13.29,
    }
    fields.update(overrides)
    return olist_pb2.Event(
        event_id=str(uuid.uuid4()),
        source="e2e",
        entity=olist_pb2.ENTITY_ORDER_ITEMS,
        order_item=olist_pb2.OrderItem(**fields),
    )


def review(n: int) -> olist_pb2.Event:
    return olist_pb2.Event(
        event_id=str(uuid.uuid4()),
        source="e2e",
        entity=olist_pb2.ENTITY_REVIEWS,
        review=olist_pb2.OrderReview(
            review_id=md5(f"review-{n}"),
            order_id=md5(f"order-{n}"),
            review_score=5,
            review_comment_message='Ótimo "produto"',
            review_creation_date="2018-01-18 00:00:00",
        ),
    )


def bad_events() -> list[tuple[olist_pb2.Event, str]]:
    """(event, expected start of its reason)."""
    no_id = order_item(900)
    no_id.event_id = ""
    mismatch = order_item(901)
    mismatch.entity = olist_pb2.ENTITY_ORDERS
    unspecified = order_item(902)
    unspecified.entity = olist_pb2.ENTITY_UNSPECIFIED
    empty = olist_pb2.Event(event_id=str(uuid.uuid4()), entity=olist_pb2.ENTITY_ORDERS)
    return [
        (no_id, "event_id: is required"),
        (mismatch, "entity: ENTITY_ORDERS does not match"),
        (unspecified, "entity: is required"),
        (empty, "payload: no record set"),
        (order_item(903, order_id="NOT-AN-MD5"), "order_id: must be an md5_id"),
        (order_item(904, price=-1.0), "price: -1 is less than the minimum 0"),
        (order_item(905, shipping_limit_date="2017-09-19"), "shipping_limit_date: must be a timestamp"),
    ]


# --------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state_dir = tmp_path_factory.mktemp("cpp-broker")
    proc = devstack.start_broker(state_dir, devstack.free_port())
    bootstrap = f"127.0.0.1:{proc.port}"
    try:
        devstack.create_topics(bootstrap, contracts.topics(), PARTITIONS)
        yield bootstrap
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def schema_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("cpp-registry")
    path = tmp / "ids.json"
    env = {**os.environ, "NEXUS_REGISTRY__LOCAL_PATH": str(tmp / "registry")}
    env.pop("NEXUS_REGISTRY__KIND", None)
    subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "schemas", "sync", "--ids-out", str(path)],
        check=True,
        env=env,
        capture_output=True,
    )
    return path, json.loads(path.read_text())


class Server(ServerProcess):
    """The C++ server as a child process (its JSON log lines collected), with the port
    of its metrics endpoint."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        super().__init__([str(SERVER), *args], env)
        self.metrics_port = self.events("serving")[0]["metrics_port"]


@pytest.fixture(scope="module")
def server(broker: str, schema_ids: tuple[Path, dict[str, str]]) -> Iterator[Server]:
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is not built; run `make cpp`")
    srv = Server(
        [
            "--listen",
            "127.0.0.1:0",
            "--brokers",
            broker,
            "--schema-ids",
            str(schema_ids[0]),
            "--max-batch-events",
            str(MAX_BATCH_EVENTS),
            "--max-stream-rejections",
            str(MAX_STREAM_REJECTIONS),
            "--metrics-listen",
            "127.0.0.1:0",
            "-X",
            "linger.ms=2",
        ]
    )
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


@pytest.fixture()
def stub(server: Server) -> Iterator[ingestion_pb2_grpc.IngestionServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield ingestion_pb2_grpc.IngestionServiceStub(channel)


def consume(bootstrap: str, topics: list[str], event_ids: set[str], timeout: float = 30.0) -> list[Any]:
    """Every message of `topics` whose event_id header is in `event_ids` (read from the start)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"e2e-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(PARTITIONS)])
    found: list[Any] = []
    seen_ids: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not event_ids <= seen_ids:
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                headers = dict(msg.headers() or [])
                eid = headers.get("event_id", b"").decode()
                if eid in event_ids:
                    found.append(msg)
                    seen_ids.add(eid)
        # A short extra read, so a duplicate behind the last wanted message shows up too.
        for msg in consumer.consume(1000, 1.0):
            if not msg.error() and dict(msg.headers() or []).get("event_id", b"").decode() in event_ids:
                found.append(msg)
    finally:
        consumer.close()
    return found


def check_in_kafka(
    bootstrap: str,
    ids: dict[str, str],
    sent: dict[str, olist_pb2.Event],
    accepted_ids: set[str],
    positions: dict[str, Any] | None = None,
) -> None:
    """Every accepted event is in Kafka exactly once, framed and keyed as keystone_nexus.contracts.events
    does, at the (topic, partition, offset) its answer gave when `positions` has it."""
    topics = sorted({contracts.entity_for_enum(sent[i].entity).topic for i in accepted_ids})
    messages = consume(bootstrap, topics, set(accepted_ids))
    by_id: dict[str, list[Any]] = {}
    for msg in messages:
        by_id.setdefault(dict(msg.headers())["event_id"].decode(), []).append(msg)
    assert set(by_id) == set(accepted_ids), "every accepted event is in Kafka"
    for event_id, msgs in by_id.items():
        assert len(msgs) == 1, f"{event_id} appears {len(msgs)} times"
        msg = msgs[0]
        event = sent[event_id]
        entity = contracts.entity_for_enum(event.entity)
        if positions is not None:
            at = positions[event_id]
            assert (msg.topic(), msg.partition(), msg.offset()) == (at.topic, at.partition, at.offset)
        assert msg.topic() == entity.topic
        value = msg.value()
        assert value[0] == 3 and value[1] == 0
        assert uuid.UUID(bytes=value[2:18]) == uuid.UUID(ids[entity.topic])
        record = json.loads(value[18:])
        assert list(record) == list(entity.columns)
        payload = getattr(event, entity.payload_field)
        for column in entity.columns:
            if payload.DESCRIPTOR.fields_by_name[column].has_presence and not payload.HasField(column):
                assert record[column] is None
            else:
                assert record[column] == pytest.approx(getattr(payload, column))
        assert msg.key() == "|".join(str(record[k]) for k in entity.key_fields).encode()
        headers = dict(msg.headers())
        assert headers["source"] == event.source.encode()
        assert headers["entity"] == entity.name.encode()


def scrape(server: Server) -> dict[str, float]:
    """The server's /metrics as {"name{labels}": value}."""
    with socket.create_connection(("127.0.0.1", server.metrics_port), timeout=5) as conn:
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK"), head
    assert "text/plain; version=0.0.4" in head
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# ------------------------------------------------------------------------ tests


def test_health_is_serving(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None
        )
        # HealthCheckRequest{service=""} is empty; HealthCheckResponse{status=SERVING(1)}.
        assert check(b"", timeout=5) == b"\x08\x01"


def test_publish_batch_answers_every_event(
    stub: ingestion_pb2_grpc.IngestionServiceStub, broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    good = [order_item(i) for i in range(40)] + [review(i) for i in range(10)]
    bad = bad_events()
    events = good[:20] + [e for e, _ in bad] + good[20:]
    response = stub.Publish(ingestion_pb2.PublishRequest(events=events), timeout=30)

    assert len(response.results) == len(events)
    assert [r.index for r in response.results] == list(range(len(events)))
    assert (response.accepted, response.rejected) == (len(good), len(bad))
    for (event, expected), result in zip(bad, response.results[20 : 20 + len(bad)], strict=True):
        assert not result.accepted
        assert result.reason.startswith(expected), result.reason
        assert result.event_id == event.event_id
    accepted = {r.event_id: r for r in response.results if r.accepted}
    check_in_kafka(broker, schema_ids[1], {e.event_id: e for e in good}, set(accepted), accepted)


def test_publish_stream_answers_its_rejections_indexed_across_the_stream(
    stub: ingestion_pb2_grpc.IngestionServiceStub, broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    batches = [[order_item(100 * b + i) for i in range(50)] for b in range(5)]
    batches[2][7] = order_item(999, order_item_id=0)
    batches[4][49] = order_item(998, seller_id="x")
    response = stub.PublishStream(iter(ingestion_pb2.PublishRequest(events=b) for b in batches), timeout=60)
    assert (response.accepted, response.rejected) == (248, 2)
    assert [(r.index, r.accepted) for r in response.results] == [(107, False), (249, False)]
    assert response.results[0].reason == "order_item_id: 0 is less than the minimum 1"
    assert response.results[0].event_id == batches[2][7].event_id
    assert response.results[1].reason.startswith("seller_id: must be an md5_id")
    sent = {e.event_id: e for b in batches for e in b}
    rejected = {r.event_id for r in response.results}
    check_in_kafka(broker, schema_ids[1], sent, set(sent) - rejected)


def test_a_stream_with_too_many_rejections_is_answered_early(
    stub: ingestion_pb2_grpc.IngestionServiceStub, broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    # 100 messages of 5 good and 5 bad events: the server stops reading soon after the
    # 20th rejection and answers for the events it read, which are a prefix of the stream.
    batches = [
        [order_item(10 * b + i) for i in range(5)] + [order_item(10 * b + i, price=-1.0) for i in range(5)]
        for b in range(100)
    ]
    response = stub.PublishStream(iter(ingestion_pb2.PublishRequest(events=b) for b in batches), timeout=60)
    read = response.accepted + response.rejected
    assert MAX_STREAM_REJECTIONS <= response.rejected < 100
    assert read % 10 == 0 and read < 1000
    assert response.accepted == response.rejected
    assert [r.index for r in response.results] == [i for i in range(read) if i % 10 >= 5]
    assert all(r.reason == "price: -1 is less than the minimum 0" for r in response.results)
    sent = [e for b in batches for e in b]
    written = {e.event_id for e in sent[:read]} - {r.event_id for r in response.results}
    not_read = {e.event_id for e in sent[read:] if e.order_item.price >= 0}
    check_in_kafka(broker, schema_ids[1], {e.event_id: e for e in sent}, written)
    assert not consume(broker, ["olist.order_items.v1"], not_read, timeout=2.0), "unread events were written"


def test_metrics_endpoint_counts_what_was_answered(
    server: Server, stub: ingestion_pb2_grpc.IngestionServiceStub
) -> None:
    before = scrape(server)
    events = [order_item(i) for i in range(30)] + [order_item(31, price=-1.0), order_item(32, order_id="x")]
    response = stub.Publish(ingestion_pb2.PublishRequest(events=events), timeout=30)
    assert (response.accepted, response.rejected) == (30, 2)
    after = scrape(server)

    def delta(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert delta("nexus_ingest_events_accepted_total") == 30
    assert delta('nexus_ingest_events_rejected_total{reason="invalid"}') == 2
    assert delta("nexus_ingest_kafka_produced_total") == 30
    assert delta('nexus_ingest_calls_total{method="Publish"}') == 1
    assert delta('nexus_ingest_request_duration_seconds_count{method="Publish"}') == 1
    assert (
        after['nexus_ingest_request_duration_seconds_bucket{method="Publish",le="+Inf"}']
        == after['nexus_ingest_request_duration_seconds_count{method="Publish"}']
    )
    assert after["nexus_ingest_kafka_delivery_errors_total"] == 0
    assert after["nexus_ingest_kafka_queue_messages"] >= 0


def test_oversize_batch_is_refused_and_the_server_keeps_serving(
    stub: ingestion_pb2_grpc.IngestionServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.Publish(
            ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(MAX_BATCH_EVENTS + 1)])
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "over the limit" in (err.value.details() or "")
    assert stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(1)]), timeout=30).accepted == 1


def test_malformed_protobuf_is_refused_and_the_server_keeps_serving(
    server: Server, stub: ingestion_pb2_grpc.IngestionServiceStub
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        raw = channel.unary_unary(
            "/keystone.olist.v1.IngestionService/Publish", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.RpcError) as err:
            raw(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=5)
    assert err.value.code() != grpc.StatusCode.OK
    assert stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(2)]), timeout=30).accepted == 1


def test_unknown_entity_is_rejected_and_its_batch_mates_are_written(
    stub: ingestion_pb2_grpc.IngestionServiceStub,
) -> None:
    unknown = order_item(40)
    unknown.entity = 99  # proto3 enums are open: a newer client's entity arrives as a number
    response = stub.Publish(
        ingestion_pb2.PublishRequest(events=[order_item(41), unknown, order_item(42)]), timeout=30
    )
    assert [r.accepted for r in response.results] == [True, False, True]
    assert response.results[1].reason == "entity: unknown value 99"


def test_malformed_stream_message_ends_the_stream_and_the_server_keeps_serving(
    server: Server, stub: ingestion_pb2_grpc.IngestionServiceStub
) -> None:
    good = ingestion_pb2.PublishRequest(events=[order_item(50)]).SerializeToString()
    with grpc.insecure_channel(server.address) as channel:
        raw = channel.stream_unary(
            "/keystone.olist.v1.IngestionService/PublishStream",
            request_serializer=None,
            response_deserializer=ingestion_pb2.PublishResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as err:
            raw(iter([good, good, b"\x0a\xff\xff\xff\xff\x0f garbage", good]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == (
        "stream message 2 (0-based) is not a valid PublishRequest; the 2 events before it were processed "
        "(2 written, 0 rejected); send again from event index 2"
    )
    assert stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(51)]), timeout=30).accepted == 1


def test_oversize_stream_message_is_rejected_with_its_reason(
    stub: ingestion_pb2_grpc.IngestionServiceStub,
) -> None:
    too_many = [order_item(i) for i in range(MAX_BATCH_EVENTS + 1)]
    response = stub.PublishStream(iter([ingestion_pb2.PublishRequest(events=too_many)]), timeout=30)
    assert (response.accepted, response.rejected) == (0, MAX_BATCH_EVENTS + 1)
    assert [r.event_id for r in response.results] == [e.event_id for e in too_many]
    assert response.results[0].reason == (
        f"stream message of {MAX_BATCH_EVENTS + 1} events is over the limit of {MAX_BATCH_EVENTS}; "
        "split it per message"
    )


def test_client_that_disconnects_mid_stream(
    server: Server, stub: ingestion_pb2_grpc.IngestionServiceStub
) -> None:
    def requests() -> Iterator[ingestion_pb2.PublishRequest]:
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])
        time.sleep(0.5)
        future.cancel()
        time.sleep(0.5)
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])

    future = stub.PublishStream.future(requests(), timeout=30)
    with pytest.raises(grpc.FutureCancelledError):
        future.result()
    deadline = time.monotonic() + 10
    while not server.events("publish_stream_cancelled") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.events("publish_stream_cancelled")
    assert stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(3)]), timeout=30).accepted == 1


def test_logs_the_librdkafka_version_and_stops_cleanly(
    broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is not built; run `make cpp`")
    srv = Server(
        [
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--brokers",
            broker,
            "--schema-ids",
            str(schema_ids[0]),
        ]
    )
    with grpc.insecure_channel(srv.address) as channel:
        response = ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(
            ingestion_pb2.PublishRequest(events=[order_item(7)]), timeout=30
        )
    assert response.accepted == 1
    assert srv.stop() == 0
    time.sleep(0.2)
    starting = srv.events("starting")[0]
    major, minor = (int(x) for x in starting["librdkafka_version"].split(".")[:2])
    assert (major, minor) >= (2, 2)
    stopped = srv.events("stopped")[0]
    assert stopped["unflushed"] == 0
    assert stopped["events_accepted_total"] == 1


def make_pki(tmp: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""

    def run(command: str) -> None:
        subprocess.run(["openssl", *command.split()], check=True, capture_output=True, cwd=tmp)

    run("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nexus-test-ca -keyout ca.key -out ca.pem")
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run(f"req -newkey rsa:2048 -nodes -subj /CN=nexus-{name} -keyout {name}.key -out {name}.csr")
        run(
            f"x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
            f" -extfile san.ext -out {name}.pem"
        )
    return {name: tmp / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def test_tls_and_mutual_tls(broker: str, schema_ids: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    base = [
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "none",
        "--brokers",
        broker,
        "--schema-ids",
        str(schema_ids[0]),
        "--tls-cert",
        str(pki["server.pem"]),
        "--tls-key",
        str(pki["server.key"]),
    ]
    ca = pki["ca.pem"].read_bytes()
    request = ingestion_pb2.PublishRequest(events=[order_item(11)])

    srv = Server(base)
    try:
        assert srv.events("serving")[0]["tls"] == "tls"
        with grpc.secure_channel(srv.address, grpc.ssl_channel_credentials(root_certificates=ca)) as channel:
            assert ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=30).accepted == 1
        with grpc.insecure_channel(srv.address) as channel, pytest.raises(grpc.RpcError) as err:
            ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE, "a plaintext client gets no service"
    finally:
        assert srv.stop() == 0

    srv = Server([*base, "--tls-client-ca", str(pki["ca.pem"])])
    try:
        assert srv.events("serving")[0]["tls"] == "mutual"
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=pki["client.key"].read_bytes(),
            certificate_chain=pki["client.pem"].read_bytes(),
        )
        with grpc.secure_channel(srv.address, with_cert) as channel:
            assert ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=30).accepted == 1
        no_cert = grpc.ssl_channel_credentials(root_certificates=ca)
        with grpc.secure_channel(srv.address, no_cert) as channel, pytest.raises(grpc.RpcError) as err:
            ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE, "a client without a certificate is refused"
    finally:
        assert srv.stop() == 0


def test_tls_with_a_missing_key_file_fails_at_start_and_says_which(
    broker: str, schema_ids: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    done = subprocess.run(
        [
            str(SERVER),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "none",
            "--brokers",
            broker,
            "--schema-ids",
            str(schema_ids[0]),
            "--tls-cert",
            str(pki["server.pem"]),
            "--tls-key",
            str(tmp_path / "missing.key"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    failed = [json.loads(line) for line in done.stderr.splitlines() if '"startup_failed"' in line]
    assert failed and "--tls-key" in failed[0]["error"] and "missing.key" in failed[0]["error"]


def test_tells_systemd_when_ready_alive_and_stopping(
    broker: str, schema_ids: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(30)
        args = f"--listen 127.0.0.1:0 --metrics-listen none --brokers {broker} --schema-ids {schema_ids[0]}"
        srv = Server(args.split(), env={**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
        ready = notify.recv(4096).decode()
        assert ready.startswith("READY=1\n") and f"port {srv.address.rsplit(':', 1)[1]}" in ready
        pings = [notify.recv(4096).decode() for _ in range(3)]  # every 150 ms: half the period
        assert pings == ["WATCHDOG=1"] * 3
        srv.proc.send_signal(signal.SIGTERM)
        while (state := notify.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert state.startswith("STOPPING=1\n")
        assert srv.proc.wait(60) == 0


def test_a_full_producer_queue_is_backpressure_not_buffering(
    broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    # librdkafka's queue holds 10 messages and an event does not wait for room: the 11th
    # event of a call finds it full, and it and the rest of its message are rejected.
    base = (
        f"--listen 127.0.0.1:0 --metrics-listen none --schema-ids {schema_ids[0]} --queue-full-timeout-ms 0"
    )
    srv = Server([*base.split(), "--brokers", broker, "-X", "queue.buffering.max.messages=10"])
    try:
        with grpc.insecure_channel(srv.address) as channel:
            stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
            response = stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(500)]))
            assert (response.accepted, response.rejected) == (10, 490)
            assert all(r.accepted for r in response.results[:10])
            assert all(r.reason.startswith("resource exhausted") for r in response.results[10:])

            # A stream stops being read once its queue stayed full, and answers for what it read.
            batches = [ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(500)])] * 20
            response = stub.PublishStream(iter(batches), timeout=30)
            read = response.accepted + response.rejected
            assert response.accepted == 10 and read % 500 == 0 and read < 20 * 500
            assert all(r.reason.startswith("resource exhausted") for r in response.results)
    finally:
        assert srv.stop() == 0

    # Nothing written at all (no broker, the 10 queued time out): RESOURCE_EXHAUSTED, retry whole.
    nowhere = f"127.0.0.1:{devstack.free_port()}"
    small_queue = "-X queue.buffering.max.messages=10 -X message.timeout.ms=500"
    srv = Server([*base.split(), "--brokers", nowhere, *small_queue.split()])
    try:
        with grpc.insecure_channel(srv.address) as channel, pytest.raises(grpc.RpcError) as err:
            ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(
                ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(50)]), timeout=30
            )
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "nothing was written, retry later" in (err.value.details() or "")
    finally:
        srv.stop()


def test_a_taken_metrics_port_is_fatal_when_chosen_and_a_warning_when_default(
    broker: str, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    args = f"--listen 127.0.0.1:0 --brokers {broker} --schema-ids {schema_ids[0]}".split()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        chosen = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [str(SERVER), *args, "--metrics-listen", chosen], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 1
        failed = [json.loads(line) for line in done.stderr.splitlines() if '"startup_failed"' in line]
        assert failed and chosen in failed[0]["error"]

    with default_metrics_port_taken():
        srv = Server(args)
        try:
            assert srv.events("serving")[0]["metrics_port"] == 0
            assert "127.0.0.1:9464" in srv.events("metrics_disabled")[0]["error"]
            with grpc.insecure_channel(srv.address) as channel:
                stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
                assert (
                    stub.Publish(ingestion_pb2.PublishRequest(events=[order_item(60)]), timeout=30).accepted
                    == 1
                )
        finally:
            assert srv.stop() == 0
