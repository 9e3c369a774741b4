"""`nexus ingest serve`: the Python twin of the C++ ingestion server (grpc.aio).

Wiring only: the producer, the request builder, the service, the /metrics endpoint,
gRPC health and reflection, TLS on the listener (tls_cert/tls_key, mutual with
tls_client_ca, as the C++ server's --tls-* flags), the producers' tokens (`auth`), and
the shutdown order. A listener on an address other than loopback without TLS is refused
(ConfigError, exit 78) unless `allow_insecure` says so, as by the C++ server. On SIGTERM/SIGINT (`stop` set):
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
import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import grpc
import orjson
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from keystone.olist.v1 import ingestion_pb2
from keystone_nexus.config import IngestSettings, KafkaSettings
from keystone_nexus.errors import ConfigError
from keystone_nexus.ingest.auth import TokenFile
from keystone_nexus.ingest.metrics import MetricsEndpoint, ingest_registry
from keystone_nexus.ingest.producer import AsyncProducer
from keystone_nexus.ingest.record_builder import RecordBuilder
from keystone_nexus.ingest.service import IngestionService, Limits, MalformedMessage
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
    check_listener(ingest)
    credentials = server_credentials(ingest)
    tokens = TokenFile(ingest.tokens_file) if ingest.tokens_file is not None else None
    builder = RecordBuilder(schema_ids)
    producer = AsyncProducer(ingest_producer_config(kafka, ingest, properties or {}, aws_region=aws_region))
    service = IngestionService(
        builder,
        producer,
        Limits(ingest.max_batch_events, ingest.queue_full_timeout_ms / 1000, ingest.max_stream_rejections),
        tokens,
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
    server.add_generic_rpc_handlers((ingestion_handler(service),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        if credentials is None:
            port = server.add_insecure_port(ingest.listen)
        else:
            port = server.add_secure_port(ingest.listen, credentials)
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
            "tls": tls_mode(ingest),
            "auth": "off" if tokens is None else f"tokens ({len(tokens)} producers)",
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


def ingestion_handler(service: IngestionService) -> grpc.GenericRpcHandler:
    """IngestionService's methods. Each asks for the call's producer first (with a tokens
    file: UNAUTHENTICATED without a known token, before anything is parsed). Both take
    their messages as bytes and parse them themselves: a request that does not parse
    fails its call with INVALID_ARGUMENT (for a stream, naming the message and where to
    resume: `parsed_stream`), where the generated handlers would fail it UNKNOWN with the
    exception's text."""

    async def publish(request: bytes, context: grpc.aio.ServicerContext) -> ingestion_pb2.PublishResponse:
        grant = await service.authenticate(context)
        try:
            parsed = ingestion_pb2.PublishRequest.FromString(request)
        except DecodeError:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the request is not a valid PublishRequest; nothing was processed",
            )
        return await service.Publish(parsed, context, grant)

    async def publish_stream(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.PublishResponse:
        grant = await service.authenticate(context)
        return await service.PublishStream(parsed_stream(requests), context, grant)

    response = ingestion_pb2.PublishResponse.SerializeToString
    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "Publish": grpc.unary_unary_rpc_method_handler(
                publish, request_deserializer=None, response_serializer=response
            ),
            "PublishStream": grpc.stream_unary_rpc_method_handler(
                publish_stream, request_deserializer=None, response_serializer=response
            ),
        },
    )


async def parsed_stream(raw: AsyncIterator[bytes]) -> AsyncIterator[ingestion_pb2.PublishRequest]:
    """Each stream message parsed; MalformedMessage at the first that is not a PublishRequest."""
    async for message in raw:
        try:
            yield ingestion_pb2.PublishRequest.FromString(message)
        except DecodeError as exc:
            raise MalformedMessage(str(exc)) from exc


def is_loopback(listen: str) -> bool:
    """Whether HOST:PORT names a loopback address (127.0.0.0/8, ::1, localhost)."""
    host = listen.rpartition(":")[0].removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


INSECURE_LISTENER = (
    "ingest.listen {listen} is not a loopback address and has no TLS, so anyone who reaches it can "
    "read and publish: set tls_cert and tls_key (NEXUS_INGEST__TLS_CERT, NEXUS_INGEST__TLS_KEY), "
    "listen on 127.0.0.1, or set ingest.allow_insecure (NEXUS_INGEST__ALLOW_INSECURE=true, "
    "--allow-insecure) to serve plaintext all the same"
)


def check_listener(ingest: IngestSettings) -> None:
    """Plaintext only on loopback, unless allow_insecure (the C++ server's rule and words)."""
    if ingest.tls_cert is None and not ingest.allow_insecure and not is_loopback(ingest.listen):
        raise ConfigError(INSECURE_LISTENER.format(listen=ingest.listen))


def tls_mode(ingest: IngestSettings) -> str:
    """As the `serving` line says it: off, tls, or mutual (client certificates required)."""
    if ingest.tls_cert is None:
        return "off"
    return "tls" if ingest.tls_client_ca is None else "mutual"


def server_credentials(ingest: IngestSettings) -> grpc.ServerCredentials | None:
    """TLS on the gRPC listener from tls_cert and tls_key, mutual with tls_client_ca; None
    for plaintext. The same rules as the C++ server's --tls-* flags."""
    if (ingest.tls_cert is None) != (ingest.tls_key is None):
        raise ConfigError("tls_cert and tls_key go together: give both for TLS, or neither for plaintext")
    if ingest.tls_cert is None or ingest.tls_key is None:
        if ingest.tls_client_ca is not None:
            raise ConfigError("tls_client_ca needs tls_cert and tls_key (mutual TLS is TLS first)")
        return None

    def pem(path: Path, setting: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {setting} {path}: {exc.strerror or exc}") from exc

    pair = (pem(ingest.tls_key, "tls_key"), pem(ingest.tls_cert, "tls_cert"))
    if ingest.tls_client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair], root_certificates=pem(ingest.tls_client_ca, "tls_client_ca"), require_client_auth=True
    )


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
