"""The ingestion contract (protos/keystone/olist/v1/ingestion.proto), against both servers:
what a call is answered, what ends up in Kafka, and how bad input, limits and a full
producer queue are handled (`kind` is "twin" or "cpp"; conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from keystone.olist.v1 import ingestion_pb2, olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.events import to_event
from keystone_nexus.dev.stack import StackInfo, free_port
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient, record_event
from keystone_nexus.ingest.validation import Checked, check_event
from keystone_nexus.olist.reader import Row, dataset_file, read
from tests.integration.conformance.conftest import MAX_BATCH_EVENTS, Launch, bad_events, order_item, review
from tests.integration.conftest import INTEGRATION_PARTITIONS
from tests.integration.ingestkit import Read, ServerProcess, read_back

pytestmark = pytest.mark.integration

TOPICS = list(contracts.topics())
EXHAUSTED_REASON = "resource exhausted: the Kafka producer queue is full; retry later"
PUBLISH = "/keystone.olist.v1.IngestionService/Publish"
PUBLISH_STREAM = "/keystone.olist.v1.IngestionService/PublishStream"
GARBAGE = b"\x0a\xff\xff\xff\xff\x0f garbage"


def by_event_id(reads: list[Read]) -> dict[str, list[Read]]:
    found: dict[str, list[Read]] = {}
    for r in reads:
        found.setdefault(r.event_id, []).append(r)
    return found


def written(stack: StackInfo, event_ids: set[str], expected: int | None = None) -> dict[str, Read]:
    """The messages of `event_ids` in Kafka, each asserted to be there at most once."""
    reads = read_back(
        stack.bootstrap_servers,
        TOPICS,
        INTEGRATION_PARTITIONS,
        lambda r: r.event_id in event_ids,
        len(event_ids) if expected is None else expected,
    )
    found = by_event_id(reads)
    twice = {k: len(v) for k, v in found.items() if len(v) > 1}
    assert not twice, f"events written more than once: {list(twice.items())[:5]}"
    return {k: v for k, (v,) in found.items()}


def expected_record(
    event: olist_pb2.Event, ids: dict[str, str]
) -> tuple[str, bytes, bytes, dict[str, bytes]]:
    """(topic, key, value, headers) keystone_nexus.contracts.events writes for a valid event."""
    checked = check_event(event)
    assert isinstance(checked, Checked), checked
    spec = checked.rules.spec
    e = to_event(
        spec, checked.record, uuid.UUID(ids[spec.schema_name]), event_id=event.event_id, source=event.source
    )
    return e.topic, e.key, e.value, dict(e.headers)


# ------------------------------------------------------------------------ tests


def test_health_serving_and_reflection(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        # HealthCheckRequest{service=""} is empty; HealthCheckResponse{status=SERVING(1)}.
        assert check(b"", timeout=5) == b"\x08\x01"
        named = b"\x0a\x22keystone.olist.v1.IngestionService"  # HealthCheckRequest{service=...}
        assert check(named, timeout=5) == b"\x08\x01"
        # ServerReflectionRequest{list_services=""} (field 7) over the bidi stream.
        info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        answer = b"".join(info(iter([b"\x3a\x00"]), timeout=5))
    assert b"keystone.olist.v1.IngestionService" in answer
    assert b"grpc.health.v1.Health" in answer


def test_a_generated_dataset_through_a_stream(
    kind: str, client: IngestClient, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]], dataset: Path
) -> None:
    source = f"dataset-{kind}"
    items = []
    for spec in contracts.entities():
        path, fmt = dataset_file(dataset, spec)
        for row in read(path, spec, fmt, validate=False):
            assert isinstance(row, Row), row
            items.append(
                (spec, row.record, record_event(spec, row.record, event_id=str(uuid.uuid4()), source=source))
            )
    bad = bad_events()
    events = [e for _, _, e in items]
    # The bad events sit among the good ones, in the second message of 500.
    events[600:600] = [e for e, _ in bad]
    result = client.publish_stream([events[i : i + 500] for i in range(0, len(events), 500)])

    # A stream's answer: the counts, and a result for each rejected event only.
    assert (result.accepted, result.rejected) == (len(items), len(bad))
    answers = [(r.index, r.event_id, r.accepted, r.reason) for r in result.results]
    assert answers == [(600 + i, e.event_id, False, why) for i, (e, why) in enumerate(bad)]

    reads = written(stack, {e.event_id for e in events}, len(items))
    assert set(reads) == {e.event_id for _, _, e in items}, (
        "every accepted event is in Kafka, and nothing else"
    )
    ids = schema_ids[1]
    per_topic: Counter[str] = Counter()
    for spec, record, event in items:
        msg = reads[event.event_id]
        assert wire.decode(msg.value).schema_version_id == uuid.UUID(ids[spec.schema_name])
        expected = to_event(
            spec, record, uuid.UUID(ids[spec.schema_name]), event_id=event.event_id, source=source
        )
        assert (msg.topic, msg.key, msg.value) == (expected.topic, expected.key, expected.value)
        assert msg.headers == dict(expected.headers)
        per_topic[msg.topic] += 1
    assert set(per_topic) == set(TOPICS), "every entity of the dataset went through"


def test_a_unary_batch_answers_every_event_in_order_and_says_where_it_was_written(
    client: IngestClient, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    good = [order_item(i) for i in range(20)] + [review(i) for i in range(5)]
    bad = bad_events()
    events = good[:10] + [e for e, _ in bad] + good[10:]
    result = client.publish(events)

    assert (result.accepted, result.rejected) == (len(good), len(bad))
    assert [(r.index, r.event_id) for r in result.results] == [(i, e.event_id) for i, e in enumerate(events)]
    assert [(r.event_id, r.reason) for r in result.rejections()] == [(e.event_id, why) for e, why in bad]
    answered = {r.event_id: r for r in result.results if r.accepted}
    assert all(r.reason == "" for r in answered.values())
    reads = written(stack, {e.event_id for e in events}, len(good))
    assert set(reads) == set(answered) == {e.event_id for e in good}
    for event in good:
        msg, answer = reads[event.event_id], answered[event.event_id]
        assert (answer.topic, answer.partition, answer.offset) == (msg.topic, msg.partition, msg.offset)
        assert (msg.topic, msg.key, msg.value, msg.headers) == expected_record(event, schema_ids[1])


def test_a_stream_answers_its_rejections_indexed_across_the_stream(
    client: IngestClient, stack: StackInfo
) -> None:
    batches = [[order_item(100 * b + i) for i in range(50)] for b in range(5)]
    batches[2][7] = order_item(999, order_item_id=0)
    batches[4][49] = order_item(998, seller_id="x")
    result = client.publish_stream(batches)
    assert (result.accepted, result.rejected) == (248, 2)
    assert [(r.index, r.event_id, r.accepted, r.reason) for r in result.results] == [
        (107, batches[2][7].event_id, False, "order_item_id: 0 is less than the minimum 1"),
        (
            249,
            batches[4][49].event_id,
            False,
            'seller_id: must be an md5_id (32 lower-case hex characters), got "x"',
        ),
    ]
    sent = {e.event_id for b in batches for e in b}
    assert set(written(stack, sent, 248)) == sent - {r.event_id for r in result.results}


def test_a_stream_with_too_many_rejections_is_answered_early(launch: Launch, stack: StackInfo) -> None:
    server = launch(settings={"NEXUS_INGEST__MAX_STREAM_REJECTIONS": "20"})
    # 100 messages of 5 good and 5 bad events: the server stops reading soon after the
    # 20th rejection and answers for the events it read, which are a prefix of the stream.
    batches = [
        [order_item(10 * b + i) for i in range(5)] + [order_item(10 * b + i, price=-1.0) for i in range(5)]
        for b in range(100)
    ]
    with IngestClient(server.url, timeout_s=60) as c:
        result = c.publish_stream(batches)
    read = result.covered
    assert 20 <= result.rejected < 100
    assert read % 10 == 0 and read < 1000
    assert result.accepted == result.rejected
    assert [r.index for r in result.results] == [i for i in range(read) if i % 10 >= 5]
    assert all(r.reason == "price: -1 is less than the minimum 0" for r in result.results)
    sent = [e for b in batches for e in b]
    good = {e.event_id for e in sent if e.order_item.price >= 0}
    assert set(written(stack, good, result.accepted)) == {e.event_id for e in sent[:read]} & good, (
        "the events read are written, the unread ones not"
    )


def test_an_oversize_batch_is_refused_and_the_server_keeps_serving(client: IngestClient) -> None:
    too_many = MAX_BATCH_EVENTS + 1
    with pytest.raises(IngestError) as err:
        client.publish([order_item(i) for i in range(too_many)])
    assert err.value.code == "INVALID_ARGUMENT" and not err.value.retriable
    assert str(err.value) == (
        f"INVALID_ARGUMENT: batch of {too_many} events is over the limit of {MAX_BATCH_EVENTS}; split it"
    )
    # In a stream, the oversize message's events are rejected and the stream goes on.
    oversize = [order_item(i) for i in range(too_many)]
    result = client.publish_stream([[order_item(i) for i in range(3)], oversize, [order_item(7)]])
    assert (result.accepted, result.rejected) == (4, too_many)
    reason = (
        f"stream message of {too_many} events is over the limit of {MAX_BATCH_EVENTS}; split it per message"
    )
    assert [(r.index, r.event_id, r.reason) for r in result.results] == [
        (3 + i, e.event_id, reason) for i, e in enumerate(oversize)
    ]
    assert client.publish([order_item(1)]).accepted == 1


def test_requests_larger_than_the_transport_window_are_taken_whole(launch: Launch) -> None:
    # 12,000 order items are ~2.4 MB: more than the C++ server's HTTP/2 window per call (1 MiB)
    # and its bytes in flight per stream (2 MiB), both of which it lets a single message through.
    server = launch("--max-batch-events", "12000")
    batch = [order_item(i) for i in range(12000)]
    assert ingestion_pb2.PublishRequest(events=batch).ByteSize() > 2 * 1024 * 1024
    with IngestClient(server.url, timeout_s=120) as c:
        assert (c.publish(batch).accepted, c.publish_stream([batch, batch]).accepted) == (12000, 24000)


def test_a_malformed_request_is_refused_as_invalid_and_the_server_keeps_serving(
    server: ServerProcess, client: IngestClient
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary(PUBLISH)(GARBAGE, timeout=5)
        assert client.publish([order_item(2)]).accepted == 1
    assert (err.value.code(), err.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "the request is not a valid PublishRequest; nothing was processed",
    )
    assert client.publish([order_item(2)]).accepted == 1


def test_a_malformed_stream_message_ends_the_stream_naming_where_to_resume(
    server: ServerProcess, client: IngestClient
) -> None:
    good = ingestion_pb2.PublishRequest(
        events=[order_item(50), order_item(51, price=-2.0)]
    ).SerializeToString()
    with grpc.insecure_channel(server.address) as channel:
        raw = channel.stream_unary(PUBLISH_STREAM)
        with pytest.raises(grpc.RpcError) as err:
            raw(iter([good, good, GARBAGE, good]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == (
        "stream message 2 (0-based) is not a valid PublishRequest; the 4 events before it were processed "
        "(2 written, 2 rejected); send again from event index 4"
    )
    assert client.publish([order_item(51)]).accepted == 1


def test_a_client_that_disconnects_mid_stream(server: ServerProcess, client: IngestClient) -> None:
    before = len(server.events("publish_stream_cancelled"))

    def requests() -> Iterator[ingestion_pb2.PublishRequest]:
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])
        time.sleep(0.5)
        future.cancel()
        time.sleep(0.5)
        yield ingestion_pb2.PublishRequest(events=[order_item(i) for i in range(10)])

    with grpc.insecure_channel(server.address) as channel:
        call = channel.stream_unary(
            PUBLISH_STREAM,
            request_serializer=ingestion_pb2.PublishRequest.SerializeToString,
            response_deserializer=ingestion_pb2.PublishResponse.FromString,
        )
        future = call.future(requests(), timeout=30)
        with pytest.raises(grpc.FutureCancelledError):
            future.result()
    deadline = time.monotonic() + 10
    while len(server.events("publish_stream_cancelled")) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.events("publish_stream_cancelled")) == before + 1
    assert client.publish([order_item(3)]).accepted == 1


def test_a_full_producer_queue_is_backpressure_not_buffering(launch: Launch) -> None:
    # librdkafka's queue holds 10 messages, none is sent for a second (linger) and an event
    # does not wait for room: the 11th event of a call finds the queue full, and it and the
    # rest of its call are rejected.
    server = launch(
        "-X",
        "queue.buffering.max.messages=10",
        "-X",
        "linger.ms=1000",
        settings={"NEXUS_INGEST__QUEUE_FULL_TIMEOUT_MS": "0"},
    )
    with IngestClient(server.url, timeout_s=60) as c:
        result = c.publish([order_item(i) for i in range(500)])
        assert (result.accepted, result.rejected) == (10, 490)
        assert all(r.accepted for r in result.results[:10])
        assert {r.reason for r in result.results[10:]} == {EXHAUSTED_REASON}

        # A stream stops being read once its queue stayed full, and answers for what it read.
        stream = c.publish_stream([[order_item(i) for i in range(500)] for _ in range(20)])
        assert stream.accepted == 10 and stream.covered % 500 == 0 and stream.covered < 20 * 500
        assert [r.index for r in stream.results] == list(range(10, stream.covered))
        assert {r.reason for r in stream.results} == {EXHAUSTED_REASON}
    assert server.stop() == 0
    stopped = server.events("stopped")[0]
    assert stopped["events_rejected_queue_full_total"] == result.rejected + stream.rejected
    assert (stopped["unflushed"], stopped["events_accepted_total"]) == (0, 20)


def test_a_call_that_wrote_nothing_is_resource_exhausted(launch: Launch) -> None:
    # No broker: the 10 queued events time out, the rest find the queue full.
    server = launch(
        "-X",
        "queue.buffering.max.messages=10",
        "-X",
        "message.timeout.ms=500",
        brokers=f"127.0.0.1:{free_port()}",
        settings={"NEXUS_INGEST__QUEUE_FULL_TIMEOUT_MS": "0"},
    )
    with IngestClient(server.url, timeout_s=30) as c, pytest.raises(IngestError) as err:
        c.publish([order_item(i) for i in range(50)])
    assert err.value.code == "RESOURCE_EXHAUSTED" and err.value.retriable
    assert str(err.value) == (
        "RESOURCE_EXHAUSTED: the Kafka producer queue is full; nothing was written, retry later"
    )
