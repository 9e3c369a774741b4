"""`IngestionService` in grpc.aio: Publish and PublishStream, answered per event.

Each event is built (checked and encoded, `record_builder`) and queued to the producer; the call
is answered after the delivery report of every event it queued, so an accepted event is
in Kafka (at least once from the client's view; the idempotent producer removes retry
duplicates). One bad event never fails its batch-mates.

Backpressure: when librdkafka's queue is full an event waits up to
`queue_full_timeout_ms` for room; after that it and the rest of its call are rejected
"resource exhausted ...; retry later", and a call that got nothing accepted ends with
RESOURCE_EXHAUSTED (safe to retry whole). A waiting stream stops reading, which slows
its client through HTTP/2 flow control. A unary batch over `max_batch_events` is refused
with INVALID_ARGUMENT; in a stream such a message's events are rejected and the stream
goes on. A Publish answer has one result per event; a PublishStream answer has the
counts and one result per *rejected* event (index across the stream), so it follows the
rejections, not the length of the stream (ingestion.proto). A stream is answered early,
for the events it read, once it has `max_stream_rejections` rejected events or once the
producer queue stayed full; a stream message that is not a PublishRequest ends the call
with INVALID_ARGUMENT naming the event index to send again from. With a tokens file
(`auth`), a call without a known token ends UNAUTHENTICATED before anything is read, and
an event of an entity its producer may not publish is rejected `permission denied: ...`.
The same behaviour as the C++ server (tests/integration/conformance runs both).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from confluent_kafka import KafkaException

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc, olist_pb2
from keystone_nexus.contracts.events import KafkaEvent
from keystone_nexus.ingest.auth import AuthFailure, Grant, TokenFile
from keystone_nexus.ingest.producer import AsyncProducer, DeliveryTracker
from keystone_nexus.ingest.record_builder import RecordBuilder
from keystone_nexus.ops.metrics import LatencyHistogram

log = logging.getLogger("keystone_nexus.ingest")

STREAM_END_WAIT_S = 0.005
EXHAUSTED_REASON = "resource exhausted: the Kafka producer queue is full; retry later"


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_events: int
    queue_full_timeout_s: float
    max_stream_rejections: int = 10_000


class MalformedMessage(Exception):
    """A stream message that does not parse as a PublishRequest (raised by the request
    iterator, `server.parsed_stream`), so the call can say which one it was."""


@dataclass
class Counters:
    """Totals since start, bumped once per call on the event loop: logged with the
    `stopped` line and read by the /metrics endpoint (`ingest.metrics`)."""

    calls_publish: int = 0
    calls_stream: int = 0
    accepted: int = 0
    rejected_invalid: int = 0
    rejected_queue_full: int = 0
    rejected_delivery: int = 0
    rejected_permission: int = 0  # events of an entity their producer may not publish
    streams_cancelled: int = 0
    # Calls refused UNAUTHENTICATED, by AuthFailure.
    auth_refused: dict[AuthFailure, int] = field(default_factory=lambda: dict.fromkeys(AuthFailure, 0))
    # From a call's start to its answer; as the C++ server, a Publish refused for its
    # size is not timed.
    publish_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    stream_latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def as_log(self) -> dict[str, int]:
        return {
            "calls_publish_total": self.calls_publish,
            "calls_stream_total": self.calls_stream,
            "events_accepted_total": self.accepted,
            "events_rejected_invalid_total": self.rejected_invalid,
            "events_rejected_queue_full_total": self.rejected_queue_full,
            "events_rejected_delivery_total": self.rejected_delivery,
            "events_rejected_permission_denied_total": self.rejected_permission,
            **{f"auth_rejections_{reason}_total": n for reason, n in self.auth_refused.items()},
            "streams_cancelled_total": self.streams_cancelled,
        }


def batch_over_limit(events: int, limit: int, *, stream: bool) -> str:
    if stream:
        return f"stream message of {events} events is over the limit of {limit}; split it per message"
    return f"batch of {events} events is over the limit of {limit}; split it"


class _Call:
    """The state of one Publish or PublishStream call."""

    def __init__(self, service: IngestionService, grant: Grant | None) -> None:
        self._service = service
        self._grant = grant
        self._tracker = DeliveryTracker(asyncio.get_running_loop())
        # Results are added straight to the answer (kept in protobuf's arena, not as
        # Python objects: a stream of a million events answers a million results).
        self.response = ingestion_pb2.PublishResponse()
        self.results = self.response.results
        self.exhausted = False
        self.invalid = 0
        self.queue_full = 0
        self.delivery_failed = 0
        self.forbidden = 0

    @property
    def rejected_so_far(self) -> int:
        """Events rejected before their delivery reports (failed deliveries come later)."""
        return self.invalid + self.queue_full + self.delivery_failed + self.forbidden

    def _reject(self, event: olist_pb2.Event, reason: str) -> None:
        self.results.add(index=len(self.results), event_id=event.event_id, reason=reason)

    def reject_all(self, events: Any, reason: str) -> None:
        for event in events:
            self._reject(event, reason)
            self.invalid += 1

    async def add_all(self, events: Iterable[olist_pb2.Event]) -> None:
        """Check, build and queue each event; awaits only while the producer queue is full."""
        producer, builder, grant = self._service.producer, self._service.builder, self._grant
        source = grant.producer if grant is not None else None
        for event in events:
            if self.exhausted:
                self._reject(event, EXHAUSTED_REASON)
                self.queue_full += 1
                continue
            built = builder.build(event, source=source)
            if isinstance(built, str):
                self._reject(event, built)
                self.invalid += 1
                continue
            if grant is not None and not grant.allows(built.topic):
                self._reject(event, grant.refusal(built.topic))
                self.forbidden += 1
                continue
            index = len(self.results)
            try:
                queued = producer.try_send(built, index, self._tracker)
                if not queued:
                    queued = await self._wait_for_room(built, index)
            except KafkaException as exc:
                self._reject(event, f"not queued: {exc.args[0] if exc.args else exc}; retry")
                self.delivery_failed += 1
                continue
            if not queued:
                self.exhausted = True
                self._reject(event, EXHAUSTED_REASON)
                self.queue_full += 1
                continue
            self.results.add(index=index, event_id=event.event_id)

    async def _wait_for_room(self, built: KafkaEvent, index: int) -> bool:
        """Retry a record refused by a full queue for up to queue_full_timeout_s."""
        deadline = time.monotonic() + self._service.limits.queue_full_timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            if self._service.producer.try_send(built, index, self._tracker):
                return True
        return False

    async def finish(self, method: str, *, rejections_only: bool = False) -> ingestion_pb2.PublishResponse:
        """Wait for the delivery reports; the answer with the counts and the results (every
        event's, or with `rejections_only` the rejected events' only)."""
        accepted = 0
        for delivery in await self._tracker.wait():
            result = self.results[delivery.index]
            if delivery.error:
                result.reason = f"delivery failed: {delivery.error}; retry"
                self.delivery_failed += 1
                continue
            result.accepted = True
            result.topic = delivery.topic
            result.partition = delivery.partition
            result.offset = delivery.offset
            accepted += 1
        rejected = len(self.results) - accepted
        counters = self._service.counters
        counters.accepted += accepted
        counters.rejected_invalid += self.invalid
        counters.rejected_queue_full += self.queue_full
        counters.rejected_delivery += self.delivery_failed
        counters.rejected_permission += self.forbidden
        if rejected:
            first = next(r.reason for r in self.results if not r.accepted)
            log.info(
                "publish_rejected",
                extra={
                    "method": method,
                    "events": len(self.results),
                    "accepted": accepted,
                    "rejected": rejected,
                    "invalid": self.invalid,
                    "queue_full": self.queue_full,
                    "delivery_failed": self.delivery_failed,
                    "permission_denied": self.forbidden,
                    "first_reason": first,
                },
            )
        if rejections_only:
            answer = ingestion_pb2.PublishResponse(accepted=accepted, rejected=rejected)
            answer.results.extend(r for r in self.results if not r.accepted)
            return answer
        self.response.accepted, self.response.rejected = accepted, rejected
        return self.response


def _certificate_cn(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the call's client certificate (mutual TLS verified it), if any."""
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode(errors="replace") if names else None


class IngestionService(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(
        self, builder: RecordBuilder, producer: AsyncProducer, limits: Limits, tokens: TokenFile | None = None
    ) -> None:
        self.builder = builder
        self.producer = producer
        self.limits = limits
        self.tokens = tokens
        self.counters = Counters()

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Grant | None:
        """The call's producer (None without a tokens file); a call without a known token
        ends UNAUTHENTICATED here. The handlers (`server.ingestion_handler`) ask first,
        before a byte of the request is parsed, and pass the grant on."""
        if self.tokens is None:
            return None
        grant = self.tokens.authenticate(context.invocation_metadata() or (), _certificate_cn(context))
        if isinstance(grant, Grant):
            return grant
        self.counters.auth_refused[grant] += 1
        log.warning("call_unauthenticated", extra={"reason": grant.value, "peer": context.peer()})
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, grant.message)
        raise AssertionError("abort returns only by raising")

    async def Publish(
        self,
        request: ingestion_pb2.PublishRequest,
        context: grpc.aio.ServicerContext,
        grant: Grant | None = None,
    ) -> ingestion_pb2.PublishResponse:
        started = time.perf_counter()
        self.counters.calls_publish += 1
        if len(request.events) > self.limits.max_batch_events:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                batch_over_limit(len(request.events), self.limits.max_batch_events, stream=False),
            )
        call = _Call(self, grant)
        await call.add_all(request.events)
        response = await call.finish("Publish")
        self.counters.publish_latency.observe(time.perf_counter() - started)
        await self._exhausted(call, response, context)
        return response

    async def PublishStream(
        self,
        requests: AsyncIterator[ingestion_pb2.PublishRequest],
        context: grpc.aio.ServicerContext,
        grant: Grant | None = None,
    ) -> ingestion_pb2.PublishResponse:
        started = time.perf_counter()
        self.counters.calls_stream += 1
        call = _Call(self, grant)
        messages = 0
        malformed = False
        limits = self.limits
        # A client that goes away mid-stream ends the request iterator as if it had
        # finished; grpc.aio then cancels this task at its next await, hence a short sleep
        # before answering (less than librdkafka's linger, which the answer waits for
        # anyway). What was queued is still delivered.
        try:
            try:
                async for request in requests:
                    messages += 1
                    if len(request.events) > limits.max_batch_events:
                        reason = batch_over_limit(len(request.events), limits.max_batch_events, stream=True)
                        call.reject_all(request.events, reason)
                    else:
                        await call.add_all(request.events)
                    # Answered early, for what was read: the client sends the rest again.
                    if call.exhausted or call.rejected_so_far >= limits.max_stream_rejections:
                        break
            except MalformedMessage:
                malformed = True
            await asyncio.sleep(STREAM_END_WAIT_S)
            response = await call.finish("PublishStream", rejections_only=True)
        except asyncio.CancelledError:
            self._cancelled(call, messages)
            raise
        finally:
            self.counters.stream_latency.observe(time.perf_counter() - started)
        if malformed:
            await self._malformed(call, response, messages, context)
        await self._exhausted(call, response, context)
        return response

    @staticmethod
    async def _malformed(
        call: _Call, response: ingestion_pb2.PublishResponse, message: int, context: grpc.aio.ServicerContext
    ) -> None:
        read = len(call.results)
        extra = {"stream_message": message, "events": read, "accepted": response.accepted}
        log.warning("publish_stream_malformed", extra=extra)
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"stream message {message} (0-based) is not a valid PublishRequest; the {read} events before it "
            f"were processed ({response.accepted} written, {response.rejected} rejected); "
            f"send again from event index {read}",
        )

    def _cancelled(self, call: _Call, messages: int) -> None:
        self.counters.streams_cancelled += 1
        log.warning("publish_stream_cancelled", extra={"messages": messages, "events": len(call.results)})

    @staticmethod
    async def _exhausted(
        call: _Call, response: ingestion_pb2.PublishResponse, context: grpc.aio.ServicerContext
    ) -> None:
        if call.exhausted and response.accepted == 0:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "the Kafka producer queue is full; nothing was written, retry later",
            )
