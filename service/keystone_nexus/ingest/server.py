"""`nexus ingest serve`: the Python twin of the C++ ingestion server (grpc.aio).

Wiring only: the producer, the request builder, the service, the /metrics endpoint,
gRPC health and reflection, and the shutdown order. On SIGTERM/SIGINT (`stop` set):
health goes NOT_SERVING, the server stops taking calls and lets in-flight calls finish
for `shutdown_grace_s`, then the producer is flushed and /metrics closes; `serve`
returns how many records were left undelivered (the command exits 1 if any).

/metrics is on `metrics_listen` (`none`: off). As with the C++ server, an address the
operator chose (flag, environment or file) must work, or the start fails; the default
one, when another server on the machine holds it, only logs `metrics_disabled` and the
twin serves without metrics.

Logs are JSON lines on stderr: `serving` (with the bound `port` and `metrics_port`, 0
when off), `stopped` (with the totals), `publish_rejected`, `publish_stream_cancelled`,
`metrics_disabled`, `producer_fatal`, `producer_callback_failed` (e.g. no MSK IAM token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import grpc
import orjson
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc
from keystone_nexus.config import IngestSettings, KafkaSettings
from keystone_nexus.errors import ConfigError
from keystone_nexus.ingest.build import RecordBuilder
from keystone_nexus.ingest.metrics import MetricsEndpoint, ingest_registry
from keystone_nexus.ingest.producer import AsyncProducer
from keystone_nexus.ingest.service import IngestionService, Limits
from keystone_nexus.kafka.producer import producer_config

log = logging.getLogger("keystone_nexus.ingest")

SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name


def load_schema_ids(path: Path) -> dict[str, UUID]:
    """The `nexus schemas sync --ids-out` file: {schema name: version id}."""
    try:
        doc = orjson.loads(path.read_bytes())
        return {str(name): UUID(str(value)) for name, value in doc.items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"schema ids file {path}: {exc}; write it with `nexus schemas sync --ids-out`"
        ) from exc


def ingest_producer_config(
    kafka: KafkaSettings,
    ingest: IngestSettings,
    properties: Mapping[str, str],
    *,
    aws_region: str | None = None,
) -> dict[str, Any]:
    """The shared producer settings, the server's own, then the `-X` properties."""
    return producer_config(
        kafka,
        aws_region=aws_region,
        **{
            "client.id": ingest.client_id,
            "linger.ms": 5,
            "compression.type": ingest.compression,
            "queue.buffering.max.messages": 100_000,
            **properties,
        },
    )


async def serve(
    ingest: IngestSettings,
    kafka: KafkaSettings,
    schema_ids: Mapping[str, UUID],
    stop: asyncio.Event,
    *,
    properties: Mapping[str, str] | None = None,
    aws_region: str | None = None,
) -> int:
    """Serve until `stop` is set; returns the number of records left undelivered.
    `aws_region` (the settings' `aws.region`) signs MSK IAM tokens, with AWS_MSK_IAM."""
    builder = RecordBuilder(schema_ids)
    producer = AsyncProducer(ingest_producer_config(kafka, ingest, properties or {}, aws_region=aws_region))
    service = IngestionService(
        builder, producer, Limits(ingest.max_batch_events, ingest.queue_full_timeout_ms / 1000)
    )
    metrics = MetricsEndpoint(ingest_registry(service.counters, producer))
    try:
        metrics_port = await _start_metrics(metrics, ingest)
    except ConfigError:
        producer.close(0)
        raise
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", ingest.max_message_bytes),
            ("grpc.max_send_message_length", -1),
        ]
    )
    ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(ingest.listen)
    except RuntimeError as exc:
        await metrics.stop()
        producer.close(0)
        raise ConfigError(f"cannot listen on {ingest.listen}: {exc}") from exc
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={
            "listen": ingest.listen,
            "port": port,
            "metrics_port": metrics_port,
            "brokers": kafka.bootstrap_servers,
        },
    )
    watch = asyncio.create_task(_watch_producer(producer, health_servicer, stop))
    try:
        await stop.wait()
    finally:
        watch.cancel()
        await health_servicer.enter_graceful_shutdown()
        log.info("stopping", extra={"grace_s": ingest.shutdown_grace_s})
        await server.stop(ingest.shutdown_grace_s)
        unflushed = await asyncio.to_thread(producer.close, max(ingest.shutdown_grace_s, 1.0))
        await metrics.stop()
        log.info(
            "stopped",
            extra={
                "unflushed": unflushed,
                **service.counters.as_log(),
                "kafka_delivered_total": producer.delivered,
                "kafka_delivery_errors_total": producer.delivery_errors,
            },
        )
    return unflushed


async def _start_metrics(endpoint: MetricsEndpoint, ingest: IngestSettings) -> int:
    """Serve /metrics; returns its port, 0 when off or when the default address is taken."""
    if ingest.metrics_listen == "none":
        return 0
    try:
        return await endpoint.start(ingest.metrics_listen)
    except OSError as exc:
        hint = "set --metrics-listen HOST:PORT (port 0: any free one) or none"
        error = f"metrics listen address {ingest.metrics_listen}: {exc.strerror or exc}"
        if "metrics_listen" in ingest.model_fields_set:
            raise ConfigError(f"{error}; {hint}") from exc
        log.warning("metrics_disabled", extra={"error": error, "detail": hint})
        return 0


async def _watch_producer(
    producer: AsyncProducer, health_servicer: health.aio.HealthServicer, stop: asyncio.Event
) -> None:
    """NOT_SERVING once the producer reports a fatal error (it cannot produce again)."""
    while not stop.is_set():
        if producer.fatal_error is not None:
            for name in ("", SERVICE_NAME):
                await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
            return
        await asyncio.sleep(1.0)
