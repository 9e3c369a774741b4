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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.aws.secrets import references, resolve_secrets
from keystone_nexus.config import AwsSettings, KafkaSettings, MetricsSettings, Settings
from keystone_nexus.errors import ConfigError, StartupError
from keystone_nexus.kafka import fetch, msk_iam
from keystone_nexus.lake.fence import probe_fencing
from keystone_nexus.lake.open import open_store
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.ops.cloudwatch import CloudWatchPublisher
from keystone_nexus.ops.emf import EmfWriter
from keystone_nexus.ops.health import HealthServer
from keystone_nexus.ops.metrics import AwsCallMetrics, SinkMetrics
from keystone_nexus.ops.sd_notify import Notifier
from keystone_nexus.registry import sync_schemas
from keystone_nexus.registry.cache import CachedRegistry
from keystone_nexus.registry.glue import GlueRegistry
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.sink.batcher import CutRules
from keystone_nexus.sink.commit import CommitOptions, CrashInjector
from keystone_nexus.sink.daemon import BronzeSink, Rebalance, SinkOptions, SinkTotals
from keystone_nexus.sink.dead_letter import DeadLetterTopic
from keystone_nexus.sink.glue_catalog import GlueCatalog, NoCatalog, TableCatalog
from keystone_nexus.sink.workers import encode_executor, warm_up
from keystone_nexus.startup import Startup, StartupAborted
from keystone_nexus.state import open as state
from keystone_nexus.state.checkpoints import PostgresCheckpoints, SplitStore

if TYPE_CHECKING:
    from keystone_nexus.dashboard.gold import GoldSource
    from keystone_nexus.dashboard.pipeline import PostgresLedger

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
        try:
            await glue.ensure_registry()
        except BaseException:
            await glue.close()
            raise
        return CachedRegistry(glue, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)
    local = LocalRegistry(reg.local_path)
    return CachedRegistry(local, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)


async def open_lake(settings: Settings, calls: AwsCallMetrics | None = None) -> ObjectStore:
    """The lake's object store: a local directory or S3, from `lake.uri`; with
    `state.checkpoints = postgres`, its checkpoints in PostgreSQL (state/checkpoints.py)."""
    aws = settings.aws
    lake = await open_store(
        settings.lake.uri,
        aws_options(aws),
        calls=calls,
        attempts=aws.max_attempts,
        max_wait_s=aws.max_backoff_s,
    )
    if settings.state.checkpoints != "postgres":
        return lake
    return SplitStore(lake, PostgresCheckpoints(state.connector(settings), settings.lake.uri))


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


@dataclass(frozen=True)
class Gold:
    """Where the dashboard reads gold, and the schema its queries name (`gold` in the
    DuckDB warehouse, the database itself in Athena)."""

    source: GoldSource
    schema: str


def gold_source(settings: Settings) -> Gold:
    """The dashboard's gold: Athena when `dashboard.athena_database` is set, else the DuckDB
    file `dashboard.duckdb` (the settings refuse both). A command's flags are folded into
    `settings.dashboard` before this is called, so this is the one place the choice is made."""
    from keystone_nexus.aws.clients import client
    from keystone_nexus.dashboard.athena import AthenaGold
    from keystone_nexus.dashboard.gold import DuckDBGold

    dash = settings.dashboard
    if dash.athena_database is not None:
        aws = aws_options(settings.aws)
        athena = AthenaGold(
            lambda: client(aws, "athena"),
            database=dash.athena_database,
            workgroup=dash.athena_workgroup,
            output_location=dash.athena_output,
        )
        return Gold(athena, schema=dash.athena_database)
    if dash.duckdb is not None:
        return Gold(DuckDBGold(dash.duckdb), schema="gold")
    raise ConfigError(
        "no gold source: give --duckdb FILE or --athena-database DB "
        "(or set NEXUS_DASHBOARD__DUCKDB or NEXUS_DASHBOARD__ATHENA_DATABASE)"
    )


def dashboard_ledger(settings: Settings) -> PostgresLedger | None:
    """The dashboard's pipeline ledger: the state database when `state.dsn` is set (the
    page then shows bronze freshness and the recent batches and runs), else none."""
    from keystone_nexus.dashboard.pipeline import PostgresLedger

    if settings.state.dsn is None:
        return None
    return PostgresLedger(state.connector(settings), describe=state.where(settings))


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
            max_timestamp_ahead_s=sink.max_timestamp_ahead_s,
        ),
        memory_budget_bytes=sink.memory_budget_bytes,
        fetch_max_records=sink.fetch_max_records,
        drain_timeout_s=sink.drain_timeout_s,
        kafka_commit_timeout_s=sink.kafka_commit_timeout_s,
        on_out_of_range=sink.on_offset_out_of_range,
        out_of_range_confirm_s=sink.out_of_range_confirm_s,
        read_committed=settings.kafka.isolation_level == "read_committed",
    )


def kafka_consumer(settings: Settings) -> AIOKafkaConsumer:
    """The sink's consumer: manual commits, no offset reset of its own, lean records, the
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
        # The sink always seeks to the lake checkpoint; a position out of range is its to
        # decide (sink/out_of_range.py), never a silent jump to the earliest record.
        "auto_offset_reset": "none",
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


def _dependency_names(settings: Settings) -> dict[str, tuple[str, str]]:
    """Each dependency start-up waits for: its name in logs and /readyz, and where it is."""
    aws = settings.aws
    where = f"at {aws.endpoint_url}" if aws.endpoint_url else f"in {aws.region}"
    lake = settings.lake.uri
    return {
        "registry": ("Glue Schema Registry", f"registry {settings.registry.registry_name} {where}"),
        "lake": ("S3", f"{lake} {where}") if lake.startswith("s3://") else ("the lake directory", lake),
        "catalog": ("Glue Data Catalog", f"database {settings.catalog.database} {where}"),
        "kafka": ("Kafka", settings.kafka.bootstrap_servers),
    }


@contextlib.contextmanager
def _quiet_kafka_client() -> Iterator[None]:
    """aiokafka logs an error per refused connection; while start-up waits for Kafka,
    its own line per window says it instead."""
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client_log.setLevel(level)


def _refused(settings: Settings, exc: KafkaError) -> StartupError:
    return StartupError(f"Kafka at {settings.kafka.bootstrap_servers} refused the sink: {exc!r}")


async def _kafka_reachable(settings: Settings) -> None:
    """One metadata round trip to the brokers, with the sink's security settings."""
    client = AIOKafkaClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=settings.kafka.client_id,
        **kafka_security(settings.kafka, aws_region=settings.aws.region),
    )
    try:
        with _quiet_kafka_client():
            await client.bootstrap()
    except KafkaError as exc:
        if exc.retriable:
            raise
        raise _refused(settings, exc) from exc
    finally:
        await client.close()


async def _started(service: AIOKafkaConsumer | AIOKafkaProducer, settings: Settings) -> None:
    """`service` started, or stopped again and the error raised (a Kafka error that
    waiting cannot fix as a one-line StartupError)."""
    try:
        with _quiet_kafka_client():
            await service.start()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await service.stop()
        if isinstance(exc, KafkaError) and not exc.retriable:
            raise _refused(settings, exc) from exc
        raise


async def _all(*steps: Awaitable[Any]) -> list[Any]:
    """Run the start-up steps together (so /readyz names every missing dependency at
    once); the first error cancels the others."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _close_on_exit(
    stack: contextlib.AsyncExitStack, bound_s: float, close: Callable[[], Awaitable[None]]
) -> None:
    """Have `stack` call `close` on the way out, bounded: leaving must not hang the exit."""

    async def closing() -> None:
        try:
            await asyncio.wait_for(close(), bound_s)
        except Exception as exc:
            log.warning("shutdown step failed", extra={"error": repr(exc)})

    stack.push_async_callback(closing)


async def _open_dependencies(
    settings: Settings,
    startup: Startup,
    stop: asyncio.Event,
    stack: contextlib.AsyncExitStack,
    *,
    calls: AwsCallMetrics,
    owner: str,
) -> tuple[CachedRegistry, ObjectStore, TableCatalog]:
    """The registry (schemas synced), the lake (fence probed) and the catalog, each
    waited for; and Kafka reachable. Each is closed by `stack` on the way out."""
    names = _dependency_names(settings)
    bound = settings.sink.drain_timeout_s

    async def registry() -> CachedRegistry:
        opened = await open_registry(settings, calls)
        try:
            if settings.registry.sync_on_start:
                await sync_schemas(opened)
        except BaseException:
            await opened.close()
            raise
        return opened

    async def lake() -> ObjectStore:
        opened = await open_lake(settings, calls)
        try:
            await probe_fencing(opened, owner)
        except BaseException:
            await opened.close()
            raise
        return opened

    async def wait(key: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        name, target = names[key]
        opened = await startup.wait_for(name, target, attempt, stop)
        _close_on_exit(stack, bound, opened.close)
        return opened

    async def kafka() -> None:
        name, target = names["kafka"]
        await startup.wait_for(name, target, lambda: _kafka_reachable(settings), stop)

    found = await _all(
        wait("registry", registry),
        wait("lake", lake),
        wait("catalog", lambda: open_catalog(settings, calls)),
        kafka(),
    )
    return found[0], found[1], found[2]


async def _start_health(health: HealthServer, settings: Settings) -> int:
    try:
        return await health.start()
    except OSError as exc:
        where = f"{settings.health.host}:{settings.health.port}"
        raise ConfigError(
            f"health.port / health.host: cannot serve the health endpoint on {where}: {exc.strerror or exc}"
            " (NEXUS_HEALTH__PORT, NEXUS_HEALTH__HOST)"
        ) from exc


async def run_sink(
    settings: Settings, stop: asyncio.Event, *, until_idle_s: float | None = None
) -> SinkTotals:
    """Wire the bronze sink from settings and run it until `stop` is set.

    The health endpoint comes up first; then start-up waits for Secrets Manager (when a
    setting references it), the registry, the lake and Kafka (see
    :mod:`keystone_nexus.startup`), a stop meanwhile ends it cleanly."""
    metrics = SinkMetrics()
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # systemd's protocol variables: read here, in the composition root, like the settings.
    watchdog = os.environ.get("WATCHDOG_USEC")
    notifier = Notifier(os.environ.get("NOTIFY_SOCKET"), int(watchdog) if watchdog else None)
    startup = Startup(notify=notifier.send)
    health = HealthServer(
        None,
        settings.kafka.bootstrap_servers,
        settings.health.host,
        settings.health.port,
        liveness_bound_s=settings.health.liveness_bound_s,
        startup=startup,
        metrics=metrics,
    )
    port = await _start_health(health, settings)
    bound = settings.sink.drain_timeout_s
    async with contextlib.AsyncExitStack() as stack:
        _close_on_exit(stack, bound, health.stop)
        log.info("starting", extra={"owner": owner, "health": f"http://{settings.health.host}:{port}"})
        try:
            if references(settings):
                aws = settings.aws
                where = f"at {aws.endpoint_url}" if aws.endpoint_url else f"in {aws.region}"
                settings = await startup.wait_for(
                    "Secrets Manager",
                    where,
                    lambda: resolve_secrets(settings, aws_options(settings.aws)),
                    stop,
                )
            kafka_name, kafka_target = _dependency_names(settings)["kafka"]
            ledger = None
            if settings.state.dsn is not None:
                ledger = await startup.wait_for(
                    "PostgreSQL", state.where(settings), lambda: state.open_ledger(settings, metrics), stop
                )
                writer = ledger
                _close_on_exit(stack, bound, lambda: writer.close(bound))
            registry, store, catalog = await _open_dependencies(
                settings, startup, stop, stack, calls=metrics.aws, owner=owner
            )
            metrics.watch_cache(lambda: (registry.hits, registry.misses))
            executor = stack.enter_context(
                encode_executor(settings.sink.encode_processes, settings.sink.worker_threads)
            )
            warm_up(executor, settings.sink.encode_processes)
            dead_letter = None
            if settings.sink.dead_letter_topic:

                async def dlq_producer() -> AIOKafkaProducer:
                    producer = AIOKafkaProducer(
                        bootstrap_servers=settings.kafka.bootstrap_servers,
                        client_id=settings.kafka.client_id,
                        acks="all",
                        **kafka_security(settings.kafka, aws_region=settings.aws.region),
                    )
                    await _started(producer, settings)
                    return producer

                producer = await startup.wait_for(kafka_name, kafka_target, dlq_producer, stop)
                _close_on_exit(stack, bound, producer.stop)
                dead_letter = DeadLetterTopic(producer, settings.sink.dead_letter_topic)
            sink = BronzeSink(
                consumer=kafka_consumer(settings),
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
                ledger=None if ledger is None else lambda *batch: ledger.submit(state.batch_row(*batch)),
            )

            async def consumer() -> AIOKafkaConsumer:
                # A consumer whose start failed is not started again: a fresh one each try.
                fresh = sink.consumer = kafka_consumer(settings)
                listener = Rebalance(sink)
                if settings.kafka.topic_pattern:
                    fresh.subscribe(pattern=settings.kafka.topic_pattern, listener=listener)
                else:
                    fresh.subscribe(topics=list(settings.kafka.topics), listener=listener)
                await _started(fresh, settings)
                return fresh

            started = await startup.wait_for(kafka_name, kafka_target, consumer, stop)
            _close_on_exit(stack, bound, started.stop)
        except StartupAborted as exc:
            log.info("stopped during start-up", extra={"waiting_for": str(exc)})
            return SinkTotals()
        startup.done = True
        health.serve(sink)
        log.info("bronze sink started", extra={"owner": owner, "lake": settings.lake.uri})
        notifier.send("READY=1")
        if startup.waited:
            notifier.send("STATUS=consuming")
        publishers = await start_metrics_publishers(settings, sink, stop)
        try:
            await sink.run(stop, until_idle_s=until_idle_s)
        finally:
            notifier.send("STOPPING=1")
            stop.set()  # the publishers publish once more, then end
            for publisher, publishing in publishers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(publishing, bound)
                await publisher.close()
    log.info("bronze sink stopped", extra={"totals": sink.totals.__dict__})
    return sink.totals
