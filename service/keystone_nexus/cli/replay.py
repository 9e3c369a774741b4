"""`nexus replay`: produce a dataset into Kafka, or send it through an ingestion server (--via)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from keystone_nexus.cli.arguments import (
    at_least_one,
    counted,
    dataset_dir,
    grpc_target,
    output_file,
    positive_number,
)
from keystone_nexus.cli.common import check_kafka, count_topics, resolved_settings, sync_schemas
from keystone_nexus.contracts import entities as contracts


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = commands.add_parser("replay", help="produce a dataset into Kafka")
    rep.add_argument("--from", dest="source_dir", type=dataset_dir, required=True, help="the dataset folder")
    rep.add_argument("--entities", help="comma-separated subset, e.g. orders,order_items")
    rep.add_argument("--rate", type=positive_number, help="events per second (default: as fast as possible)")
    rep.add_argument("--rejects", type=output_file, help="write rejected rows as JSON lines here")
    rep.add_argument("--limit", type=counted, help="at most this many rows per entity")
    rep.add_argument("--count", action="store_true", help="print the records per topic afterwards")
    rep.add_argument("--no-progress", action="store_true")
    rep.add_argument("--source", default="olist-replay", help="the events' source header")
    rep.add_argument(
        "--via",
        type=grpc_target,
        metavar="grpc://HOST:PORT",
        help="send through an ingestion server instead (with the bearer token NEXUS_INGEST__TOKEN, if set)",
    )
    rep.add_argument("--batch", type=at_least_one, default=500, help="events per request with --via")
    rep.add_argument("--stream", action="store_true", help="with --via: PublishStream instead of Publish")
    rep.add_argument(
        "--in-flight",
        type=at_least_one,
        metavar="N",
        help="with --via: calls open at once (default: 2 with --stream, else 8)",
    )
    rep.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from keystone_nexus.olist.reader import dataset_plan
    from keystone_nexus.replay.to_kafka import ordered_entities

    # The entities and the dataset's files are checked before anything is sent.
    dataset_plan(args.source_dir, ordered_entities(args.entities.split(",") if args.entities else None))
    if args.via:
        return _replay_via(args)
    from uuid import UUID

    from keystone_nexus.kafka.producer import EventProducer, producer_config
    from keystone_nexus.replay.to_kafka import replay

    settings = resolved_settings(args)
    check_kafka(settings)
    versions = {name: UUID(v) for name, v in asyncio.run(sync_schemas(settings)).items()}
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
        counts = count_topics(settings, [e.topic for e in contracts.entities()])
        for topic, count in counts.items():
            print(f"{topic:<34}{count:>10,} records in the topic")
    ok = remaining == 0 and acked == report.total_sent
    return 0 if ok else 1


def _replay_via(args: argparse.Namespace) -> int:
    from keystone_nexus.ingest.client import IngestClient
    from keystone_nexus.replay.to_kafka import ordered_entities
    from keystone_nexus.replay.via_grpc import replay_via

    names = args.entities.split(",") if args.entities else None
    token = resolved_settings(args).ingest.token
    rejects = args.rejects.open("wb") if args.rejects else None
    try:
        with IngestClient(args.via, token=token.get_secret_value() if token else None) as client:
            client.wait_ready()
            report = replay_via(
                args.source_dir,
                client,
                batch=args.batch,
                stream=args.stream,
                in_flight=args.in_flight or (2 if args.stream else 8),
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
