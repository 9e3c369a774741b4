"""replay_via's sending: calls in flight, early answers, retries and the rejection reports,
against a client that answers as the servers do (the servers themselves are in
tests/integration/conformance)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import orjson
import pytest

from keystone.olist.v1 import ingestion_pb2, olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient, PublishResult
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, read
from keystone_nexus.replay.via_grpc import replay_via


class Answer:
    def __init__(self, server: Server, result: PublishResult | IngestError) -> None:
        self.server, self.outcome = server, result
        server.open += 1
        server.most_open = max(server.most_open, server.open)

    def result(self) -> PublishResult:
        self.server.open -= 1
        if isinstance(self.outcome, IngestError):
            raise self.outcome
        return self.outcome

    def cancel(self) -> None:
        self.server.open -= 1


class Server:
    """Rejects orders whose status is "teleported"; answers the first stream early (for
    `early` events) and refuses the first call with UNAVAILABLE when told to."""

    def __init__(self, *, early: int = 0, unavailable: bool = False) -> None:
        self.early, self.unavailable = early, unavailable
        self.accepted: list[olist_pb2.Event] = []
        self.requests: list[int] = []
        self.open = self.most_open = 0

    def start_publish(self, body: bytes) -> Answer:
        return self._answer([body], unary=True)

    def start_publish_stream(self, bodies: Iterable[bytes]) -> Answer:
        return self._answer(list(bodies), unary=False)

    def _answer(self, bodies: list[bytes], *, unary: bool) -> Answer:
        if self.unavailable:
            self.unavailable = False
            return Answer(self, IngestError("UNAVAILABLE: try later", code="UNAVAILABLE", retriable=True))
        events = [e for b in bodies for e in ingestion_pb2.PublishRequest.FromString(b).events]
        self.requests += [len(ingestion_pb2.PublishRequest.FromString(b).events) for b in bodies]
        if self.early and not unary:
            events, self.early = events[: self.early], 0
        results = []
        for index, event in enumerate(events):
            ok = not (event.WhichOneof("payload") == "order" and event.order.order_status == "teleported")
            if ok:
                self.accepted.append(event)
            if unary or not ok:
                reason = "" if ok else "order_status: must be one of ..."
                results.append(
                    ingestion_pb2.EventResult(
                        index=index, event_id=event.event_id, accepted=ok, reason=reason
                    )
                )
        rejected = sum(not r.accepted for r in results)
        return Answer(self, PublishResult(len(events) - rejected, rejected, results))


def dataset(tmp_path: Path) -> Path:
    generate(tmp_path, scale=0.003, seed=4)
    orders = tmp_path / contracts.entity("orders").csv_file
    lines = orders.read_text().splitlines(keepends=True)
    cells = lines[4].split(",")
    cells[2] = '"teleported"'
    lines[4] = ",".join(cells)  # line 5
    orders.write_text("".join(lines))
    return tmp_path


def rows(directory: Path) -> int:
    return sum(
        isinstance(i, Row)
        for spec in contracts.entities()
        for i in read(directory / spec.csv_file, spec, validate=False)
    )


@pytest.mark.parametrize(
    ("stream", "server"),
    [
        (False, Server()),
        (True, Server()),
        (True, Server(early=700)),
        (False, Server(unavailable=True)),
        (True, Server(unavailable=True)),
    ],
    ids=["unary", "stream", "answered-early", "unary-retried", "stream-retried"],
)
def test_every_row_once_and_the_rejection_with_file_line_and_raw(
    tmp_path: Path, stream: bool, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("keystone_nexus.replay.via_grpc.time.sleep", lambda s: None)
    data = dataset(tmp_path)
    rejects = io.BytesIO()
    client: IngestClient = server  # type: ignore[assignment]
    report = replay_via(
        data,
        client,
        batch=100,
        stream=stream,
        stream_events=1_000,
        rejects=rejects,
        progress=False,
        in_flight=3,
    )
    total = rows(data)
    assert report.total_sent == total and report.total_accepted == total - 1
    assert report.rejected == {"orders": 1}
    ids = [e.event_id for e in server.accepted]
    assert len(ids) == len(set(ids)) == total - 1, "every accepted row once"
    (doc,) = [orjson.loads(line) for line in rejects.getvalue().splitlines()]
    assert (doc["entity"], doc["file"], doc["line"]) == ("orders", "olist_orders_dataset.csv", 5)
    assert (
        doc["reason"].startswith("order_status") and orjson.loads(doc["raw"])["order_status"] == "teleported"
    )
    assert str(report.first_errors[0]).startswith("olist_orders_dataset.csv:5: order_status")
    assert max(server.requests) <= 100
    assert 1 < server.most_open <= 3


def test_a_refusal_that_is_not_retriable_stops_the_replay(tmp_path: Path) -> None:
    class Refusing(Server):
        def _answer(self, bodies: list[bytes], *, unary: bool) -> Answer:
            return Answer(self, IngestError("INVALID_ARGUMENT: no", code="INVALID_ARGUMENT"))

    server = Refusing()
    client: IngestClient = server  # type: ignore[assignment]
    with pytest.raises(IngestError, match="INVALID_ARGUMENT"):
        replay_via(dataset(tmp_path), client, progress=False)
    assert server.open == 0, "the calls still open were cancelled"
