"""A small client of the ingestion service (the C++ server and the Python twin alike).

    with IngestClient("grpc://127.0.0.1:50051") as client:
        result = client.publish([record_event(spec, record, event_id=..., source="me")])
        result = client.publish_stream(batches)          # an iterable of event lists
        for r in result.rejections():
            print(r.index, r.event_id, r.reason)

`publish` returns one result per event, in order. `publish_stream` returns the counts and
one result per rejected event, indexed across the whole stream (an event not listed was
accepted); a server may answer a stream early, for its first `accepted + rejected`
events (`covered`), and the rest is to be sent again. A call refused as a whole raises
IngestError (`retriable` says whether sending it again later can help); a server with a
tokens file wants the producer's `token` (UNAUTHENTICATED without it).

`start_publish(body)` and `start_publish_stream(bodies)` send PublishRequests already
serialized (contracts.proto_batch writes them from columns) and return at once with a
`PendingPublish`; its `result()` waits for the answer. Several can be in flight on the
one channel while the caller builds the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc, olist_pb2
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.errors import ConfigError, IngestError

SCHEME = "grpc://"
_SERVICE = "/keystone.olist.v1.IngestionService/"
_RETRIABLE = {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}


def parse_target(url: str) -> str:
    """`grpc://HOST:PORT` -> `HOST:PORT` (what a gRPC channel is opened on)."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"{url!r} is not grpc://HOST:PORT")
    address = url.removeprefix(SCHEME).rstrip("/")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"{url!r} is not grpc://HOST:PORT")
    return address


def record_event(spec: EntitySpec, record: dict[str, Any], *, event_id: str, source: str) -> olist_pb2.Event:
    """An Event carrying one Olist record (a dict keyed by column; None leaves a field unset)."""
    message = spec.message_class()(**{k: v for k, v in record.items() if v is not None})
    event = olist_pb2.Event(event_id=event_id, source=source, entity=spec.entity_enum)  # type: ignore[arg-type]
    getattr(event, spec.payload_field).CopyFrom(message)
    return event


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The server's answer: one EventResult per event sent, and the counts."""

    accepted: int
    rejected: int
    results: Sequence[ingestion_pb2.EventResult]

    @classmethod
    def of(cls, response: ingestion_pb2.PublishResponse) -> PublishResult:
        return cls(response.accepted, response.rejected, response.results)

    @property
    def covered(self) -> int:
        """How many of the events sent (from the first) the answer covers."""
        return self.accepted + self.rejected

    def rejections(self) -> list[ingestion_pb2.EventResult]:
        if not self.rejected:  # a unary answer lists every event: no need to look
            return []
        return [r for r in self.results if not r.accepted]


class PendingPublish:
    """A call in flight; `result()` waits for its answer (IngestError if it failed)."""

    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self) -> PublishResult:
        try:
            response = self._future.result()
        except grpc.RpcError as exc:
            raise _error(exc) from None
        return PublishResult.of(response)

    def cancel(self) -> None:
        self._future.cancel()


class IngestClient:
    """One channel to an ingestion server; thread-safe, close it when done."""

    def __init__(self, url: str, *, timeout_s: float = 600.0, token: str | None = None) -> None:
        """`token`: the producer's bearer token, sent with every call (`authorization:
        Bearer <token>`) to a server with a tokens file."""
        self.address = parse_target(url)
        self.timeout_s = timeout_s
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        # A stream's one answer grows with its events (~74 bytes each).
        options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
        self._channel = grpc.insecure_channel(self.address, options=options)
        self._stub = ingestion_pb2_grpc.IngestionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        # The same methods for requests already serialized (no serializer: bytes go as they are).
        answer = ingestion_pb2.PublishResponse.FromString
        self._publish_raw = self._channel.unary_unary(_SERVICE + "Publish", response_deserializer=answer)
        self._stream_raw = self._channel.stream_unary(
            _SERVICE + "PublishStream", response_deserializer=answer
        )

    def __enter__(self) -> IngestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError as exc:
            raise IngestError(f"{self.address}: not reachable within {timeout_s} s", retriable=True) from exc

    def publish(self, events: Sequence[olist_pb2.Event]) -> PublishResult:
        """Publish one batch; answered once every event is in Kafka or rejected."""
        try:
            response = self._stub.Publish(
                ingestion_pb2.PublishRequest(events=events), timeout=self.timeout_s, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise _error(exc) from None
        return PublishResult.of(response)

    def publish_stream(self, batches: Iterable[Sequence[olist_pb2.Event]]) -> PublishResult:
        """Publish a stream of batches in one call; answered once at its end, with the
        rejected events' results only."""

        def requests() -> Iterator[ingestion_pb2.PublishRequest]:
            for batch in batches:
                yield ingestion_pb2.PublishRequest(events=batch)

        try:
            response = self._stub.PublishStream(requests(), timeout=self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _error(exc) from None
        return PublishResult.of(response)

    def start_publish(self, body: bytes) -> PendingPublish:
        """Publish one serialized PublishRequest; the answer comes with `result()`."""
        return PendingPublish(self._publish_raw.future(body, timeout=self.timeout_s, metadata=self._metadata))

    def start_publish_stream(self, bodies: Iterable[bytes]) -> PendingPublish:
        """Publish a stream of serialized PublishRequests; the answer comes with `result()`."""
        return PendingPublish(
            self._stream_raw.future(iter(bodies), timeout=self.timeout_s, metadata=self._metadata)
        )


def _error(exc: grpc.RpcError) -> IngestError:
    code = exc.code()
    return IngestError(f"{code.name}: {exc.details()}", code=code.name, retriable=code in _RETRIABLE)
