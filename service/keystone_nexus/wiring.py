"""The composition root: builds the adapters the settings ask for.

No other module reads settings to decide which implementation to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import uuid
from typing import Any, Protocol, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from keystone_nexus import msk_iam
from keystone_nexus.aws import AwsOptions
from keystone_nexus.cloudwatch import CloudWatchPublisher
from keystone_nexus.config import AwsSettings, KafkaSettings, MetricsSettings, Settings
from keystone_nexus.emf import EmfWriter
from keystone_nexus.health import HealthServer
from keystone_nexus.lake.open import open_store
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.metrics import AwsCallMetrics, SinkMetrics
from keystone_nexus.notify import Notifier
from keystone_nexus.registry import sync_schemas
from keystone_nexus.registry.cache import CachedRegistry
from keystone_nexus.registry.glue import GlueRegistry
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.secrets import resolve_secrets
from keystone_nexus.sink import fetch
from keystone_nexus.sink.batcher import CutRules
from keystone_nexus.sink.catalog import GlueCatalog, NoCatalog, TableCatalog
from keystone_nexus.sink.commit import CommitOptions, CrashInjector
from keystone_nexus.sink.daemon import BronzeSink, Rebalance, SinkOptions, SinkTotals
from keystone_nexus.sink.dead_letter import DeadLetterTopic
from keystone_nexus.sink.workers import encode_executor, warm_up

log = logging.getLogger("keystone_nexus")


def aws_options(aws: AwsSettings) -> AwsOptions:
    return AwsOptions(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        connect_timeout_s=aws.connect_timeout_s,
        read_timeout_s=aws.read_timeout_s,
    )


async def open_registry(settings: Settings, calls: AwsCallMetrics | None = None) -> CachedRegistry:
    """The configured schema registry behind its TTL cache."""
    reg = settings.registry
    if reg.kind == "glue":
        glue = await GlueRegistry.open(
            aws_options(settings.aws), reg.registry_name, attempts=settings.aws.max_attempts, calls=calls
        )
        await glue.ensure_registry()
        return CachedRegistry(glue, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)
    local = LocalRegistry(reg.local_path)
    return CachedRegistry(local, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)


async def open_lake(settings: Settings, calls: AwsCallMetrics | None = None) -> ObjectStore:
    """The lake's object store: a local directory or S3, from `lake.uri`."""
    aws = settings.aws
    return await open_store(
        settings.lake.uri,
        aws_options(aws),
        calls=calls,
        attempts=aws.max_attempts,
        max_wait_s=aws.max_backoff_s,
    )


async def open_catalog(settings: Settings, calls: AwsCallMetrics | None = None) -> TableCatalog:
    """Glue Data Catalog registration for an S3 lake; nothing for a local one."""
    if not settings.catalog.enabled or not settings.lake.uri.startswith("s3://"):
        return NoCatalog()
    return await GlueCatalog.open(
        aws_options(settings.aws),
        database=settings.catalog.database,
        lake_uri=settings.lake.uri,
        table_prefix=settings.catalog.table_prefix,
        attempts=settings.aws.max_attempts,
        calls=calls,
    )


def sink_options(settings: Settings) -> SinkOptions:
    sink = settings.sink
    return SinkOptions(
        rules=CutRules(
            max_records=sink.max_batch_records,
            max_bytes=sink.max_batch_bytes,
            max_age_s=sink.max_latency_s,
            idle_flush_s=sink.idle_flush_s,
            caught_up_bytes=sink.caught_up_flush_bytes,
        ),
        commit=CommitOptions(
            compression=sink.compression,
            writer=sink.writer,
            tombstones=sink.tombstones,
            time_fields=dict(sink.time_fields),
            max_payload_hours=sink.max_payload_hours,
        ),
        memory_budget_bytes=sink.memory_budget_bytes,
        fetch_max_records=sink.fetch_max_records,
        drain_timeout_s=sink.drain_timeout_s,
        read_committed=settings.kafka.isolation_level == "read_committed",
    )


def kafka_consumer(settings: Settings) -> AIOKafkaConsumer:
    """The sink's consumer: manual commits, earliest on a new group, lean records, the
    configured isolation level (read_committed by default: no aborted transaction in bronze)."""
    kafka = settings.kafka
    fetch.install()
    options: dict[str, Any] = {
        "value_deserializer": fetch.RAW_RECORDS,
        "isolation_level": kafka.isolation_level,
        "bootstrap_servers": kafka.bootstrap_servers,
        "group_id": kafka.group_id,
        "client_id": kafka.client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        "max_poll_interval_ms": 300_000,
        # Fetch buffers count towards the process's memory; keep them a fraction of the budget.
        "fetch_max_bytes": 16 * 1024 * 1024,
        "max_partition_fetch_bytes": 2 * 1024 * 1024,
        **kafka_security(kafka, aws_region=settings.aws.region),
    }
    return AIOKafkaConsumer(**options)


def kafka_security(kafka: KafkaSettings, *, aws_region: str) -> dict[str, Any]:
    """aiokafka's TLS and SASL options from the settings (`aws_region`: the settings'
    `aws.region`, where MSK IAM tokens are signed unless `kafka.msk_iam_region` says)."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    tokens = msk_iam.tokens_for(kafka, aws_region)
    if tokens is not None:
        options["sasl_mechanism"] = "OAUTHBEARER"
        options["sasl_oauth_token_provider"] = msk_iam.AiokafkaTokenProvider(tokens)
    elif kafka.sasl_mechanism:
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        password = kafka.sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    if kafka.ssl_cafile or kafka.security_protocol in ("SSL", "SASL_SSL"):
        # Without a CA file, the system trust store (MSK's certificates are from public CAs).
        cafile = str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options


class _Publisher(Protocol):
    async def run(self, interval_s: float, stop: asyncio.Event) -> None: ...
    async def close(self) -> None: ...


class _EmfOut:
    """EMF lines to a file (appended) or to stdout: the writer and its closing."""

    def __init__(self, settings: MetricsSettings, sink: BronzeSink, group: str) -> None:
        self._file = settings.emf_path.open("a", encoding="utf-8") if settings.emf_path else None
        self._out: TextIO = self._file or sys.stdout
        self.writer = EmfWriter(
            sink.status,
            self._write,
            group=group,
            namespace=settings.cloudwatch_namespace,
            per_partition=settings.cloudwatch_per_partition,
        )

    def _write(self, line: str) -> None:
        self._out.write(line)
        self._out.flush()

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await self.writer.run(interval_s, stop)

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def start_metrics_publishers(
    settings: Settings, sink: BronzeSink, stop: asyncio.Event
) -> list[tuple[_Publisher, asyncio.Task[None]]]:
    """Background tasks for CloudWatch (PutMetricData) and EMF lines, as the settings ask."""
    metrics = settings.metrics
    publishers: list[_Publisher] = []
    if metrics.cloudwatch:
        publishers.append(
            await CloudWatchPublisher.open(
                aws_options(settings.aws),
                sink.status,
                group=settings.kafka.group_id,
                namespace=metrics.cloudwatch_namespace,
                per_partition=metrics.cloudwatch_per_partition,
                attempts=settings.aws.max_attempts,
                calls=sink.metrics.aws,
            )
        )
    if metrics.emf:
        publishers.append(_EmfOut(metrics, sink, settings.kafka.group_id))
    loop = asyncio.get_running_loop()
    return [(p, loop.create_task(p.run(metrics.cloudwatch_interval_s, stop))) for p in publishers]


async def run_sink(
    settings: Settings, stop: asyncio.Event, *, until_idle_s: float | None = None
) -> SinkTotals:
    """Wire the bronze sink from settings and run it until `stop` is set."""
    settings = await resolve_secrets(settings, aws_options(settings.aws))
    metrics = SinkMetrics()
    registry = await open_registry(settings, metrics.aws)
    if settings.registry.sync_on_start:
        await sync_schemas(registry)
    store = await open_lake(settings, metrics.aws)
    catalog = await open_catalog(settings, metrics.aws)
    consumer = kafka_consumer(settings)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # systemd's protocol variables: read here, in the composition root, like the settings.
    watchdog = os.environ.get("WATCHDOG_USEC")
    notifier = Notifier(os.environ.get("NOTIFY_SOCKET"), int(watchdog) if watchdog else None)
    dlq_producer = None
    dead_letter = None
    if settings.sink.dead_letter_topic:
        dlq_producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            client_id=settings.kafka.client_id,
            acks="all",
            **kafka_security(settings.kafka, aws_region=settings.aws.region),
        )
        await dlq_producer.start()
        dead_letter = DeadLetterTopic(dlq_producer, settings.sink.dead_letter_topic)
    executor = encode_executor(settings.sink.encode_processes, settings.sink.worker_threads)
    warm_up(executor, settings.sink.encode_processes)
    with executor:
        sink = BronzeSink(
            consumer=consumer,
            store=store,
            registry=registry,
            executor=executor,
            options=sink_options(settings),
            owner=owner,
            crash=CrashInjector(settings.sink.crash_at),
            catalog=catalog,
            dead_letter=dead_letter,
            notify=notifier.send,
            metrics=metrics,
        )
        health = HealthServer(
            sink,
            settings.kafka.bootstrap_servers,
            settings.health.host,
            settings.health.port,
            liveness_bound_s=settings.health.liveness_bound_s,
        )
        listener = Rebalance(sink)
        if settings.kafka.topic_pattern:
            consumer.subscribe(pattern=settings.kafka.topic_pattern, listener=listener)
        else:
            consumer.subscribe(topics=list(settings.kafka.topics), listener=listener)
        await consumer.start()
        port = await health.start()
        log.info(
            "bronze sink started",
            extra={
                "owner": owner,
                "lake": settings.lake.uri,
                "health": f"http://{settings.health.host}:{port}",
            },
        )
        notifier.send("READY=1")
        publishers = await start_metrics_publishers(settings, sink, stop)
        try:
            await sink.run(stop, until_idle_s=until_idle_s)
        finally:
            notifier.send("STOPPING=1")
            stop.set()  # the publishers publish once more, then end
            for publisher, publishing in publishers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(publishing, settings.sink.drain_timeout_s)
                await publisher.close()
            # Every step of the way out is bounded: leaving the group must not hang the exit.
            bound = settings.sink.drain_timeout_s
            closers = [health.stop(), consumer.stop()]
            if dlq_producer is not None:
                closers.append(dlq_producer.stop())
            closers += [catalog.close(), store.close(), registry.close()]
            for closer in closers:
                try:
                    await asyncio.wait_for(closer, bound)
                except Exception as exc:
                    log.warning("shutdown step failed", extra={"error": repr(exc)})
    log.info("bronze sink stopped", extra={"totals": sink.totals.__dict__})
    return sink.totals
