"""`nexus ingest serve`: the Python twin of the C++ gRPC ingestion server."""

from __future__ import annotations

import argparse
import asyncio

from keystone_nexus.cli.arguments import at_least_one, brokers, existing_file, listen
from keystone_nexus.cli.common import resolved_settings, sync_schemas
from keystone_nexus.config import metrics_listen_address


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser("ingest", help="the gRPC ingestion server").add_subparsers(
        dest="ingest", required=True
    )
    serve = ingest.add_parser("serve", help="serve IngestionService (the Python twin of the C++ server)")
    serve.add_argument("--listen", type=listen, metavar="HOST:PORT", help="default NEXUS_INGEST__LISTEN")
    serve.add_argument(
        "--metrics-listen",
        type=_metrics_listen,
        metavar="HOST:PORT",
        help="Prometheus /metrics (port 0: any free one), or none; default NEXUS_INGEST__METRICS_LISTEN",
    )
    serve.add_argument(
        "--brokers", type=brokers, metavar="HOST:PORT[,...]", help="default NEXUS_KAFKA__BOOTSTRAP_SERVERS"
    )
    serve.add_argument(
        "--schema-ids",
        type=existing_file,
        metavar="FILE",
        help="from `nexus schemas sync --ids-out` (default NEXUS_INGEST__SCHEMA_IDS; else sync now)",
    )
    serve.add_argument("--max-batch-events", type=at_least_one, help="default NEXUS_INGEST__MAX_BATCH_EVENTS")
    serve.add_argument(
        "--tokens-file",
        type=existing_file,
        metavar="FILE",
        help="the producers who may publish and their tokens' SHA-256 (default NEXUS_INGEST__TOKENS_FILE)",
    )
    serve.add_argument(
        "--allow-insecure",
        action="store_true",
        default=None,
        help="serve plaintext on an address other than loopback (default NEXUS_INGEST__ALLOW_INSECURE)",
    )
    serve.add_argument(
        "-X", action="append", default=[], type=_property, metavar="KEY=VALUE", help="librdkafka property"
    )
    serve.set_defaults(func=cmd_ingest_serve)


def _property(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return text


def _metrics_listen(text: str) -> str:
    try:
        return metrics_listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_ingest_serve(args: argparse.Namespace) -> int:
    import signal
    from uuid import UUID

    from keystone_nexus.ingest.server import load_schema_ids, serve
    from keystone_nexus.ops import logs

    settings = resolved_settings(args)
    ingest = settings.ingest.model_copy(
        update={
            k: v
            for k, v in {
                "listen": args.listen,
                "metrics_listen": args.metrics_listen,
                "schema_ids": args.schema_ids,
                "max_batch_events": args.max_batch_events,
                "tokens_file": args.tokens_file,
                "allow_insecure": args.allow_insecure,
            }.items()
            if v is not None
        }
    )
    kafka = settings.kafka
    if args.brokers:
        kafka = kafka.model_copy(update={"bootstrap_servers": args.brokers})
    properties = dict(kv.split("=", 1) for kv in args.X)
    logs.configure(ingest.log_level)
    if ingest.schema_ids is not None:
        schema_ids = load_schema_ids(ingest.schema_ids)
    else:
        schema_ids = {name: UUID(v) for name, v in asyncio.run(sync_schemas(settings)).items()}

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
