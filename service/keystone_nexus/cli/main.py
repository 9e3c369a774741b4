"""The `nexus` command line: parses arguments and calls the parts; no logic of its own."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from keystone_nexus import __version__
from keystone_nexus.cli import dev as dev_cli
from keystone_nexus.config import Settings, listen_address, load_settings, metrics_listen_address
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import ConfigError, NexusError


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with every `aws-secretsmanager:` reference resolved (for every
    command, not only the daemon: replay, the twin, reprocess, the dashboard...)."""
    from keystone_nexus.aws.secrets import references, resolve_secrets
    from keystone_nexus.wiring import aws_options

    settings = load_settings(args.config)
    if not references(settings):
        return settings
    return asyncio.run(resolve_secrets(settings, aws_options(settings.aws)))


def cmd_generate(args: argparse.Namespace) -> int:
    import time

    from keystone_nexus.olist.generate import generate

    started = time.monotonic()
    counts = generate(args.out, scale=args.scale, seed=args.seed, fmt=args.format)
    elapsed = time.monotonic() - started
    for name, rows in counts.items():
        print(f"{rows:>10,}  {name}")
    print(f"{sum(counts.values()):>10,}  rows in {elapsed:.1f} s -> {args.out}")
    return 0


def cmd_schemas_print(args: argparse.Namespace) -> int:
    from keystone_nexus.contracts.json_schema import entity_schema

    chosen = [contracts.entity(args.entity)] if args.entity else contracts.entities()
    doc = {e.schema_name: entity_schema(e) for e in chosen}
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


async def _sync(settings: Settings) -> dict[str, str]:
    from keystone_nexus.registry import sync_schemas
    from keystone_nexus.wiring import open_registry

    registry = await open_registry(settings)
    try:
        result = await sync_schemas(registry)
    finally:
        await registry.close()
    for name, version in result.versions.items():
        state = "registered" if name in result.created else "unchanged"
        print(
            f"{name:<34} v{version.version_number:<3} {version.version_id}  {state}",
            file=sys.stderr,
        )
    return {name: str(v.version_id) for name, v in result.versions.items()}


def cmd_schemas_sync(args: argparse.Namespace) -> int:
    ids = asyncio.run(_sync(_settings(args)))
    if args.ids_out:
        args.ids_out.parent.mkdir(parents=True, exist_ok=True)
        args.ids_out.write_bytes(orjson.dumps(ids, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        print(f"schema version ids written to {args.ids_out}", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    if args.via:
        return _replay_via(args)
    from uuid import UUID

    from keystone_nexus.kafka.admin import topic_counts
    from keystone_nexus.kafka.producer import EventProducer, producer_config
    from keystone_nexus.replay.to_kafka import ordered_entities, replay
    from keystone_nexus.wiring import kafka_security

    settings = _settings(args)
    versions = {name: UUID(v) for name, v in asyncio.run(_sync(settings)).items()}
    producer = EventProducer(producer_config(settings.kafka, aws_region=settings.aws.region))
    rejects = args.rejects.open("wb") if args.rejects else None
    try:
        report = replay(
            args.source_dir,
            producer,
            versions,
            entity_names=args.entities.split(",") if args.entities else None,
            rate=args.rate,
            rejects=rejects,
            progress=not args.no_progress and sys.stderr.isatty(),
            limit=args.limit,
            source=args.source,
        )
        remaining = producer.flush()
    finally:
        if rejects is not None:
            rejects.close()
    deliveries = producer.deliveries
    for error in report.first_errors:
        print(f"rejected {error}", file=sys.stderr)
    rate = report.total_sent / report.elapsed_s if report.elapsed_s else 0.0
    print(f"{'entity':<22}{'sent':>10}{'acked':>10}{'failed':>8}{'rejected':>10}")
    for spec in ordered_entities(args.entities.split(",") if args.entities else None):
        print(
            f"{spec.name:<22}{report.sent[spec.name]:>10,}{deliveries.delivered[spec.topic]:>10,}"
            f"{deliveries.failed[spec.topic]:>8,}{report.rejected[spec.name]:>10,}"
        )
    acked = sum(deliveries.delivered.values())
    print(
        f"{'total':<22}{report.total_sent:>10,}{acked:>10,}{sum(deliveries.failed.values()):>8,}"
        f"{report.total_rejected:>10,}   {report.elapsed_s:.1f} s, {rate:,.0f} events/s"
    )
    for error_text in deliveries.errors:
        print(f"delivery failed: {error_text}", file=sys.stderr)
    if args.rejects and report.total_rejected:
        print(f"rejected rows written to {args.rejects}", file=sys.stderr)
    if args.count:
        topics = [e.topic for e in contracts.entities()]
        security = kafka_security(settings.kafka, aws_region=settings.aws.region)
        counts = asyncio.run(
            topic_counts(
                settings.kafka.bootstrap_servers,
                topics,
                security=security,
                isolation_level=settings.kafka.isolation_level,
            )
        )
        for topic, count in counts.items():
            print(f"{topic:<34}{count:>10,} records in the topic")
    ok = remaining == 0 and acked == report.total_sent
    return 0 if ok else 1


def _replay_via(args: argparse.Namespace) -> int:
    from keystone_nexus.ingest.client import IngestClient
    from keystone_nexus.replay.to_kafka import ordered_entities
    from keystone_nexus.replay.via_grpc import replay_via

    names = args.entities.split(",") if args.entities else None
    rejects = args.rejects.open("wb") if args.rejects else None
    try:
        with IngestClient(args.via) as client:
            client.wait_ready()
            report = replay_via(
                args.source_dir,
                client,
                batch=args.batch,
                stream=args.stream,
                entity_names=names,
                rejects=rejects,
                progress=not args.no_progress and sys.stderr.isatty(),
                limit=args.limit,
                source=args.source,
            )
    finally:
        if rejects is not None:
            rejects.close()
    for error in report.first_errors:
        print(f"rejected {error}", file=sys.stderr)
    rate = report.total_accepted / report.elapsed_s if report.elapsed_s else 0.0
    print(f"via {args.via} ({'stream' if args.stream else 'unary'}, batches of {args.batch})")
    print(f"{'entity':<22}{'sent':>10}{'accepted':>10}{'rejected':>10}")
    for spec in ordered_entities(names):
        print(
            f"{spec.name:<22}{report.sent[spec.name]:>10,}{report.accepted[spec.name]:>10,}"
            f"{report.rejected[spec.name]:>10,}"
        )
    print(
        f"{'total':<22}{report.total_sent:>10,}{report.total_accepted:>10,}{report.total_rejected:>10,}"
        f"   {report.elapsed_s:.1f} s, {rate:,.0f} events/s"
    )
    if args.rejects and report.total_rejected:
        print(f"rejected rows written to {args.rejects}", file=sys.stderr)
    return 0 if report.total_rejected == 0 else 1


def cmd_ingest_serve(args: argparse.Namespace) -> int:
    import signal
    from uuid import UUID

    from keystone_nexus.ingest.server import load_schema_ids, serve
    from keystone_nexus.ops import logs

    settings = _settings(args)
    ingest = settings.ingest.model_copy(
        update={
            k: v
            for k, v in {
                "listen": args.listen,
                "metrics_listen": args.metrics_listen,
                "schema_ids": args.schema_ids,
                "max_batch_events": args.max_batch_events,
            }.items()
            if v is not None
        }
    )
    kafka = settings.kafka
    if args.brokers:
        kafka = kafka.model_copy(update={"bootstrap_servers": args.brokers})
    properties = dict(kv.split("=", 1) for kv in args.X)
    logs.configure(ingest.log_level.upper().replace("WARN", "WARNING"))
    if ingest.schema_ids is not None:
        schema_ids = load_schema_ids(ingest.schema_ids)
    else:
        schema_ids = {name: UUID(v) for name, v in asyncio.run(_sync(settings)).items()}

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve(
            ingest, kafka, schema_ids, stop, properties=properties, aws_region=settings.aws.region
        )

    unflushed = asyncio.run(main())
    return 0 if unflushed == 0 else 1


def _property(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return text


def _metrics_listen(text: str) -> str:
    try:
        return metrics_listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_topics_counts(args: argparse.Namespace) -> int:
    from keystone_nexus.kafka.admin import topic_counts
    from keystone_nexus.wiring import kafka_security

    settings = _settings(args)
    security = kafka_security(settings.kafka, aws_region=settings.aws.region)
    topics = list(settings.kafka.topics)
    counts = asyncio.run(
        topic_counts(
            settings.kafka.bootstrap_servers,
            topics,
            security=security,
            isolation_level=settings.kafka.isolation_level,
        )
    )
    for topic, count in counts.items():
        print(f"{topic:<34}{count:>10,}")
    print(f"{'total':<34}{sum(counts.values()):>10,}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from keystone_nexus.ops import logs
    from keystone_nexus.wiring import run_sink

    settings = _settings(args)
    logs.configure(args.log_level)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1 <pid>: stacks to stderr

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        totals = await run_sink(settings, stop, until_idle_s=args.until_idle)
        if args.until_idle is not None:
            print(
                f"{totals.records_valid:,} records to bronze, {totals.records_dead:,} dead-lettered, "
                f"{totals.files:,} files, {totals.bytes_written / 1e6:,.1f} MB"
            )

    asyncio.run(main())
    return 0


def cmd_lake_summary(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.lake_summary import summarize
    from keystone_nexus.wiring import open_lake

    settings = _settings(args)

    async def main() -> None:
        store = await open_lake(settings)
        try:
            summary = await summarize(store)
        finally:
            await store.close()
        print(f"lake {settings.lake.uri}")
        print(f"{'entity':<22}{'bronze rows':>12}{'files':>8}{'dead-lettered':>15}")
        for spec in contracts.entities():
            name = spec.name
            print(
                f"{name:<22}{summary.bronze_rows[name]:>12,}{summary.bronze_files[name]:>8,}"
                f"{summary.dlq_rows[name]:>15,}"
            )
        total_rows, total_dead = sum(summary.bronze_rows.values()), sum(summary.dlq_rows.values())
        print(f"{'total':<22}{total_rows:>12,}{sum(summary.bronze_files.values()):>8,}{total_dead:>15,}")
        for (entity, reason), count in summary.dlq_reasons.most_common(args.reasons):
            print(f"  dead-lettered {count:>6,}  {entity}: {reason}")
        if summary.dlq_redriven:
            print(f"  re-driven into bronze (counted there): {sum(summary.dlq_redriven.values()):,}")

    asyncio.run(main())
    return 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.redrive import list_dead_letters
    from keystone_nexus.wiring import open_lake

    settings = _settings(args)

    async def main() -> None:
        store = await open_lake(settings)
        try:
            counts = await list_dead_letters(store, entity=args.entity, reason_like=args.reason_like)
        finally:
            await store.close()
        print(f"lake {settings.lake.uri}")
        print(f"{'entity':<20}{'schema version':<38}{'dead':>7}{'re-driven':>10}{'outstanding':>12}  reason")
        for c in counts:
            print(
                f"{c.entity:<20}{c.schema_version_id:<38}{c.dead:>7,}{c.redriven:>10,}{c.outstanding:>12,}"
                f"  {c.reason[:100]}"
            )
        total, outstanding = sum(c.dead for c in counts), sum(c.outstanding for c in counts)
        print(f"{'total':<58}{total:>7,}{total - outstanding:>10,}{outstanding:>12,}")

    asyncio.run(main())
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.redrive import replay_dead_letters
    from keystone_nexus.wiring import open_catalog, open_lake, open_registry, sink_options

    settings = _settings(args)

    async def main() -> int:
        registry = await open_registry(settings)
        store = await open_lake(settings)
        catalog = await open_catalog(settings)
        try:
            report = await replay_dead_letters(
                store,
                registry,
                options=sink_options(settings).commit,
                catalog=catalog,
                entity=args.entity,
                reason_like=args.reason_like,
            )
        finally:
            await catalog.close()
            await store.close()
            await registry.close()
        for entity, n in sorted(report.redriven.items()):
            if n:
                print(f"{entity:<22}{n:>8,} re-driven to bronze")
        resumed = f", {report.resumed:,} from an interrupted replay" if report.resumed else ""
        print(
            f"{report.total:,} of {report.candidates:,} outstanding dead letters now pass and are in bronze"
            f"{resumed}; {report.files:,} objects written ({report.objects_seen:,} dead-letter objects read)"
        )
        return 0

    return asyncio.run(main())


def cmd_reprocess(args: argparse.Namespace) -> int:
    from keystone_nexus.kafka.range_reader import KafkaRangeReader
    from keystone_nexus.repair.reprocess import reprocess
    from keystone_nexus.wiring import (
        kafka_security,
        open_catalog,
        open_lake,
        open_registry,
        sink_options,
    )

    settings = _settings(args)

    async def main() -> int:
        registry = await open_registry(settings)
        store = await open_lake(settings)
        catalog = await open_catalog(settings)
        security = kafka_security(settings.kafka, aws_region=settings.aws.region)
        source = KafkaRangeReader(
            settings.kafka.bootstrap_servers,
            security=security,
            isolation_level=settings.kafka.isolation_level,
        )
        try:
            report = await reprocess(
                store,
                registry,
                source,
                topic=args.topic,
                partition=args.partition,
                start=args.from_offset,
                end=args.to_offset,
                options=sink_options(settings).commit,
                catalog=catalog,
                dry_run=args.dry_run,
            )
        finally:
            await catalog.close()
            await store.close()
            await registry.close()
        if args.dry_run and report.plan is not None:
            plan = report.plan
            print(f"{args.topic}[{args.partition}] offsets {plan.start}..{plan.end} would be rebuilt")
            print("units (each encoded as one batch): " + ", ".join(f"{a}..{b}" for a, b in plan.units))
            for key in plan.old:
                print(f"  replaces {key}")
            return 0
        if report.resumed:
            print("finished an interrupted reprocess of this partition first")
        print(
            f"{args.topic}[{args.partition}] offsets {report.start}..{report.end} rebuilt "
            f"(asked {args.from_offset}..{args.to_offset}): {report.records:,} records, {report.valid:,} to "
            f"bronze, {report.invalid:,} dead-lettered; {report.written:,} objects written, "
            f"{report.deleted:,} replaced ones deleted"
        )
        return 0

    return asyncio.run(main())


def cmd_config_docs(args: argparse.Namespace) -> int:
    from keystone_nexus.config_docs import render

    text = render()
    if args.out:
        args.out.write_text(text)
        print(f"configuration reference written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_cloudwatch(args: argparse.Namespace) -> int:
    from keystone_nexus.aws.clients import client
    from keystone_nexus.ops import cloudwatch_dashboards as dashboards
    from keystone_nexus.wiring import aws_options

    settings = _settings(args)
    group, topics = settings.kafka.group_id, list(settings.kafka.topics)
    name = args.name or f"keystone-nexus-{group}"
    if args.what == "dashboard":
        body: object = dashboards.dashboard_body(group, topics, settings.aws.region)
    else:
        body = dashboards.alarms(
            group, topics, lag_threshold=args.lag_threshold, lag_periods=args.lag_periods, actions=args.action
        )
    print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    if not args.apply:
        return 0

    async def apply() -> None:
        async with client(aws_options(settings.aws), "cloudwatch") as cw:
            if args.what == "dashboard":
                await cw.put_dashboard(DashboardName=name, DashboardBody=orjson.dumps(body).decode())
            else:
                for alarm in body:  # type: ignore[attr-defined]
                    await cw.put_metric_alarm(**alarm)

    asyncio.run(apply())
    print(f"applied to CloudWatch ({settings.aws.region})", file=sys.stderr)
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    from keystone_nexus.ops.top import run

    url = args.url
    if url is None:
        health = _settings(args).health
        url = f"http://{health.host}:{health.port}"
    try:
        run(url, args.interval, args.once)
    except OSError as exc:
        print(f"nexus: cannot read {url}/status: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    from keystone_nexus.dev.transform import DEFAULT_PROJECT, Toolchain, TransformRun, run_transform

    project = args.project_dir or DEFAULT_PROJECT
    run = TransformRun(lake=args.lake, warehouse=args.duckdb, project=project, work_dir=args.work_dir)
    report = run_transform(run, Toolchain.find(project, args.tools))
    print(f"{'gold table':<28}{'rows':>10}")
    for table, rows in report.gold_rows.items():
        print(f"{table:<28}{rows:>10,}")
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.dbt_results.items()))
    print(f"dbt: {report.tests_passed}/{report.tests_total} tests passed ({statuses})")
    for layer, result in report.gx["layers"].items():
        state = "success" if result["success"] else "FAILED"
        print(f"GX {layer:<7} {result['checkpoints']} checkpoints: {state}")
    timings = ", ".join(f"{step} {s:.1f} s" for step, s in report.seconds.items())
    print(f"GX success: {report.gx_success}; Data Docs: {report.data_docs}")
    print(f"{timings}; DuckDB: {args.duckdb}")
    return 0 if report.gx_success else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from keystone_nexus.journey import JourneyOptions, render, run_journey

    options = JourneyOptions(
        state_dir=args.state_dir,
        scale=args.scale,
        seed=args.seed,
        server=args.server,
        lake=args.lake,
        partitions=args.partitions,
        progress=sys.stderr.isatty(),
    )
    result = run_journey(options, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(render(result))
    balanced = result.in_kafka == result.bronze_rows + result.dead_lettered
    return 0 if balanced and result.transform is not None and result.transform.gx_success else 1


def cmd_dashboard(args: argparse.Namespace) -> int:
    import dataclasses

    from keystone_nexus.aws.clients import client
    from keystone_nexus.dashboard import AthenaGold, DashboardOptions, DuckDBGold, GoldSource, serve
    from keystone_nexus.wiring import aws_options

    settings = _settings(args)
    dash = settings.dashboard
    status_url = args.status_url or dash.status_url or f"http://{settings.health.host}:{settings.health.port}"
    try:
        host, _, port = listen_address(args.listen or dash.listen).rpartition(":")
    except ValueError as exc:
        raise ConfigError(f"--listen: {exc}") from None
    duckdb, database = args.duckdb, args.athena_database
    if duckdb is None and database is None:
        duckdb, database = dash.duckdb, dash.athena_database
    source: GoldSource
    if database is not None:
        aws = aws_options(settings.aws)
        source = AthenaGold(
            lambda: client(aws, "athena"),
            database=database,
            workgroup=args.athena_workgroup or dash.athena_workgroup,
            output_location=args.athena_output or dash.athena_output,
        )
        schema = database
    elif duckdb is not None:
        source = DuckDBGold(duckdb)
        schema = "gold"
    else:
        raise ConfigError(
            "no gold source: give --duckdb FILE or --athena-database DB "
            "(or set NEXUS_DASHBOARD__DUCKDB or NEXUS_DASHBOARD__ATHENA_DATABASE)"
        )
    options = DashboardOptions(status_url=status_url, host=host, port=int(port), gold_schema=schema)
    static_dir = args.static_dir or dash.static_dir
    if static_dir is not None:
        options = dataclasses.replace(options, static_dir=static_dir)

    def ready(bound: int) -> None:
        print(
            f"dashboard on http://{options.host}:{bound}/  (gold {source.describe}, sink {status_url})",
            flush=True,
        )

    try:
        asyncio.run(serve(source, options, ready))
    except KeyboardInterrupt:
        return 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus", description="Keystone Nexus streaming-lakehouse ingestion")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (environment variables win)")
    commands = parser.add_subparsers(dest="command", required=True)

    olist = commands.add_parser("olist", help="Olist datasets").add_subparsers(dest="olist", required=True)
    gen = olist.add_parser("generate", help="write a synthetic Olist dataset")
    gen.add_argument("--scale", type=float, default=1.0, help="1.0 = the real dataset's size")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    gen.set_defaults(func=cmd_generate)

    schemas = commands.add_parser("schemas", help="registry schemas").add_subparsers(
        dest="schemas", required=True
    )
    show = schemas.add_parser("print", help="print the JSON Schemas derived from the protos")
    show.add_argument("--entity")
    show.set_defaults(func=cmd_schemas_print)
    sync = schemas.add_parser("sync", help="register the current schemas (idempotent)")
    sync.add_argument("--ids-out", type=Path, help="write {schema name: version id} JSON here")
    sync.set_defaults(func=cmd_schemas_sync)

    rep = commands.add_parser("replay", help="produce a dataset into Kafka")
    rep.add_argument("--from", dest="source_dir", type=Path, required=True)
    rep.add_argument("--entities", help="comma-separated subset, e.g. orders,order_items")
    rep.add_argument("--rate", type=float, help="events per second (default: as fast as possible)")
    rep.add_argument("--rejects", type=Path, help="write rejected rows as JSON lines here")
    rep.add_argument("--limit", type=int, help="at most this many rows per entity")
    rep.add_argument("--count", action="store_true", help="print the records per topic afterwards")
    rep.add_argument("--no-progress", action="store_true")
    rep.add_argument("--source", default="olist-replay", help="the events' source header")
    rep.add_argument("--via", metavar="grpc://HOST:PORT", help="send through an ingestion server instead")
    rep.add_argument("--batch", type=int, default=500, help="events per request with --via")
    rep.add_argument("--stream", action="store_true", help="with --via: PublishStream instead of Publish")
    rep.set_defaults(func=cmd_replay)

    ingest = commands.add_parser("ingest", help="the gRPC ingestion server").add_subparsers(
        dest="ingest", required=True
    )
    serve = ingest.add_parser("serve", help="serve IngestionService (the Python twin of the C++ server)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default NEXUS_INGEST__LISTEN")
    serve.add_argument(
        "--metrics-listen",
        type=_metrics_listen,
        metavar="HOST:PORT",
        help="Prometheus /metrics (port 0: any free one), or none; default NEXUS_INGEST__METRICS_LISTEN",
    )
    serve.add_argument("--brokers", metavar="HOST:PORT[,...]", help="default NEXUS_KAFKA__BOOTSTRAP_SERVERS")
    serve.add_argument(
        "--schema-ids",
        type=Path,
        metavar="FILE",
        help="from `nexus schemas sync --ids-out` (default NEXUS_INGEST__SCHEMA_IDS; else sync now)",
    )
    serve.add_argument("--max-batch-events", type=int, help="default NEXUS_INGEST__MAX_BATCH_EVENTS")
    serve.add_argument(
        "-X", action="append", default=[], type=_property, metavar="KEY=VALUE", help="librdkafka property"
    )
    serve.set_defaults(func=cmd_ingest_serve)

    run = commands.add_parser("run", help="run the bronze sink daemon")
    run.add_argument("--log-level", default="INFO")
    run.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="exit once everything consumed is written and nothing arrived for SECONDS (batch runs, demos)",
    )
    run.set_defaults(func=cmd_run)

    lake = commands.add_parser("lake", help="the lake").add_subparsers(dest="lake", required=True)
    summary = lake.add_parser("summary", help="bronze rows per entity, dead letters by reason")
    summary.add_argument("--reasons", type=int, default=10, help="how many dead-letter reasons to list")
    summary.set_defaults(func=cmd_lake_summary)

    dlq = commands.add_parser("dlq", help="dead letters: list, re-drive").add_subparsers(
        dest="dlq", required=True
    )
    for what, text in (
        ("list", "dead letters by entity, schema version and reason; re-driven and outstanding"),
        ("replay", "re-validate outstanding dead letters against the current schemas; land passing ones"),
    ):
        sub = dlq.add_parser(what, help=text)
        sub.add_argument("--entity", help="only this entity (e.g. orders)")
        sub.add_argument("--reason-like", metavar="TEXT", help="only reasons containing TEXT (any case)")
        sub.set_defaults(func=cmd_dlq_list if what == "list" else cmd_dlq_replay)

    rp = commands.add_parser("reprocess", help="rebuild the lake objects of an offset range from Kafka")
    rp.add_argument("--topic", required=True)
    rp.add_argument("--partition", type=int, required=True)
    rp.add_argument("--from-offset", type=int, required=True, help="first offset (widened to whole objects)")
    rp.add_argument(
        "--to-offset", type=int, required=True, help="last offset, inclusive, below the checkpoint"
    )
    rp.add_argument("--dry-run", action="store_true", help="print the widened range and the objects only")
    rp.set_defaults(func=cmd_reprocess)

    config = commands.add_parser("config", help="settings").add_subparsers(dest="config_cmd", required=True)
    docs = config.add_parser("docs", help="the configuration reference (Markdown) generated from the model")
    docs.add_argument("--out", type=Path, help="write here instead of stdout (docs/configuration.md)")
    docs.set_defaults(func=cmd_config_docs)

    cloudwatch = commands.add_parser("cloudwatch", help="CloudWatch dashboard and alarms as code")
    cw = cloudwatch.add_subparsers(dest="what", required=True)
    for what in ("dashboard", "alarms"):
        sub = cw.add_parser(what, help=f"print (and with --apply, put) the {what}")
        sub.add_argument("--apply", action="store_true")
        sub.add_argument("--name", help="dashboard name (default keystone-nexus-<group>)")
        sub.add_argument("--lag-threshold", type=int, default=100_000)
        sub.add_argument("--lag-periods", type=int, default=5)
        sub.add_argument("--action", action="append", default=[], help="alarm action ARN (repeatable)")
        sub.set_defaults(func=cmd_cloudwatch)

    top = commands.add_parser("top", help="live per-partition lag and rates of a running sink")
    top.add_argument("--url", help="the sink's health endpoint (default from settings)")
    top.add_argument("--interval", type=float, default=2.0)
    top.add_argument("--once", action="store_true", help="print one screen and exit")
    top.set_defaults(func=cmd_top)

    dash = commands.add_parser("dashboard", help="the web dashboard: live pipeline and gold, read-only")
    gold_from = dash.add_mutually_exclusive_group()
    gold_from.add_argument(
        "--duckdb",
        type=Path,
        help="the DuckDB warehouse holding gold, opened read-only (NEXUS_DASHBOARD__DUCKDB)",
    )
    gold_from.add_argument(
        "--athena-database",
        metavar="DB",
        help="gold in Athena, e.g. keystone_nexus_gold (NEXUS_DASHBOARD__...)",
    )
    dash.add_argument("--athena-workgroup", help="default NEXUS_DASHBOARD__ATHENA_WORKGROUP (primary)")
    dash.add_argument(
        "--athena-output", metavar="S3_URI", help="query results location (if the workgroup has none)"
    )
    dash.add_argument(
        "--status-url", help="the sink's health server (default NEXUS_DASHBOARD__STATUS_URL, else health)"
    )
    dash.add_argument(
        "--listen", metavar="HOST:PORT", help="default NEXUS_DASHBOARD__LISTEN (127.0.0.1:8788)"
    )
    dash.add_argument("--static-dir", type=Path, help="the built page (default dashboard/dist)")
    dash.set_defaults(func=cmd_dashboard)

    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics", required=True)
    counts = topics.add_parser("counts", help="records per configured topic")
    counts.set_defaults(func=cmd_topics_counts)

    tr = commands.add_parser("transform", help="dbt silver and gold on DuckDB over a local lake, then GX")
    tr.add_argument("--lake", type=Path, required=True, help="the lake directory (holds bronze/)")
    tr.add_argument("--duckdb", type=Path, required=True, help="the DuckDB file silver and gold go to")
    tr.add_argument("--project-dir", type=Path, help="the dbt project (default: the repository's transform/)")
    tr.add_argument("--tools", type=Path, help="bin directory with dbt and GX (default .venv-transform/bin)")
    tr.add_argument("--work-dir", type=Path, help="dbt target, logs, GX output (default <duckdb>.transform)")
    tr.set_defaults(func=cmd_transform)

    dev_cli.register(commands)

    demo = commands.add_parser(
        "demo", help="the whole journey: stack, dataset with bad events, gRPC server, sink, transform"
    )
    demo.add_argument("--state-dir", type=Path, default=Path(".state/demo"))
    demo.add_argument("--scale", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--server", choices=["auto", "cpp", "twin"], default="auto", help="auto: C++ if built")
    demo.add_argument("--lake", choices=["local", "s3"], default="local", help="s3: the bucket in moto")
    demo.add_argument("--partitions", type=int, default=6)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except NexusError as exc:
        print(f"nexus: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
