"""What an operator reads and repairs in the lake: `nexus lake summary`, `nexus dlq list`
(both with --json: one JSON document on stdout), `nexus dlq redrive` (also `nexus dlq
replay`, its first name) and `nexus reprocess`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from keystone_nexus.cli.arguments import counted
from keystone_nexus.cli.common import (
    opened_lake,
    opened_repair_tools,
    print_json,
    print_table,
    resolved_settings,
)
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import UsageError
from keystone_nexus.ops import progress

if TYPE_CHECKING:
    from keystone_nexus.repair.lake_summary import LakeSummary


JSON_HELP = "one JSON document on stdout instead of the table"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lake = commands.add_parser("lake", help="the lake").add_subparsers(dest="lake", required=True)
    summary = lake.add_parser("summary", help="bronze rows per entity, dead letters by reason")
    summary.add_argument("--reasons", type=counted, default=10, help="how many dead-letter reasons to list")
    summary.add_argument("--json", action="store_true", help=JSON_HELP)
    summary.set_defaults(func=cmd_lake_summary)

    dlq = commands.add_parser("dlq", help="dead letters: list, re-drive").add_subparsers(
        dest="dlq", required=True
    )
    listing = dlq.add_parser(
        "list", help="dead letters by entity, schema version and reason; re-driven and outstanding"
    )
    redrive = dlq.add_parser(
        "redrive",
        aliases=["replay"],  # its first name
        help="re-validate outstanding dead letters against the current schemas; land passing ones",
    )
    for sub, func in ((listing, cmd_dlq_list), (redrive, cmd_dlq_redrive)):
        sub.add_argument("--entity", help="only this entity (e.g. orders)")
        sub.add_argument("--reason-like", metavar="TEXT", help="only reasons containing TEXT (any case)")
        sub.set_defaults(func=func)
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    redrive.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)

    rp = commands.add_parser("reprocess", help="rebuild the lake objects of an offset range from Kafka")
    rp.add_argument("--topic", required=True)
    rp.add_argument("--partition", type=counted, required=True)
    rp.add_argument(
        "--from-offset", type=counted, required=True, help="first offset (widened to whole objects)"
    )
    rp.add_argument(
        "--to-offset", type=counted, required=True, help="last offset, inclusive, below the checkpoint"
    )
    rp.add_argument("--dry-run", action="store_true", help="print the widened range and the objects only")
    rp.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)
    rp.set_defaults(func=cmd_reprocess)


def cmd_lake_summary(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.lake_summary import summarize

    settings = resolved_settings(args)

    async def main() -> None:
        async with opened_lake(settings) as store:
            summary = await summarize(store)
        if args.json:
            print_json(_summary_doc(settings.lake.uri, summary, args.reasons))
            return
        print(f"lake {settings.lake.uri}")
        names = [spec.name for spec in contracts.entities()]
        rows: list[list[object]] = [
            [name, summary.bronze_rows[name], summary.bronze_files[name], summary.dlq_rows[name]]
            for name in names
        ]
        rows.append(
            [
                "total",
                sum(summary.bronze_rows.values()),
                sum(summary.bronze_files.values()),
                sum(summary.dlq_rows.values()),
            ]
        )
        print_table(["entity", "bronze rows", "files", "dead-lettered"], rows)
        for (entity, reason), count in summary.dlq_reasons.most_common(args.reasons):
            print(f"  dead-lettered {count:>6,}  {entity}: {reason}")
        if summary.dlq_redriven:
            print(f"  re-driven into bronze (counted there): {sum(summary.dlq_redriven.values()):,}")

    asyncio.run(main())
    return 0


def _summary_doc(lake: str, summary: LakeSummary, reasons: int) -> dict[str, object]:
    """`nexus lake summary --json`: what the table shows, keyed by entity."""
    names = [spec.name for spec in contracts.entities()]
    return {
        "lake": lake,
        "entities": {
            name: {
                "bronze_rows": summary.bronze_rows[name],
                "bronze_files": summary.bronze_files[name],
                "dead_lettered": summary.dlq_rows[name],
            }
            for name in names
        },
        "total": {
            "bronze_rows": sum(summary.bronze_rows.values()),
            "bronze_files": sum(summary.bronze_files.values()),
            "dead_lettered": sum(summary.dlq_rows.values()),
        },
        "dead_letter_reasons": [
            {"entity": entity, "reason": reason, "count": count}
            for (entity, reason), count in summary.dlq_reasons.most_common(reasons)
        ],
        "redriven": sum(summary.dlq_redriven.values()),
    }


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.redrive import list_dead_letters

    settings = resolved_settings(args)

    async def main() -> None:
        async with opened_lake(settings) as store:
            counts = await list_dead_letters(store, entity=args.entity, reason_like=args.reason_like)
        total, outstanding = sum(c.dead for c in counts), sum(c.outstanding for c in counts)
        if args.json:
            print_json(
                {
                    "lake": settings.lake.uri,
                    "dead_letters": [
                        {
                            "entity": c.entity,
                            "schema_version_id": c.schema_version_id,
                            "reason": c.reason,
                            "dead": c.dead,
                            "redriven": c.redriven,
                            "outstanding": c.outstanding,
                        }
                        for c in counts
                    ],
                    "total": {"dead": total, "redriven": total - outstanding, "outstanding": outstanding},
                }
            )
            return
        print(f"lake {settings.lake.uri}")
        rows: list[list[object]] = [
            [c.entity, c.schema_version_id, c.dead, c.redriven, c.outstanding, c.reason[:100]] for c in counts
        ]
        rows.append(["total", "", total, total - outstanding, outstanding, ""])
        print_table(["entity", "schema version", "dead", "re-driven", "outstanding", "reason"], rows)

    asyncio.run(main())
    return 0


NO_PROGRESS_HELP = "no progress bar (none is shown when stderr is not a terminal)"


def _counted(bar: Any) -> Callable[[str], Awaitable[None]]:
    """An after_put hook that advances `bar` by one object written."""

    async def written(_key: str) -> None:
        bar.update(1)

    return written


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    from keystone_nexus.repair.redrive import redrive_dead_letters
    from keystone_nexus.state.open import recording
    from keystone_nexus.wiring import sink_options

    settings = resolved_settings(args)

    async def main() -> int:
        async with contextlib.AsyncExitStack() as stack:
            run = await stack.enter_async_context(recording(settings, "redrive"))
            tools = await stack.enter_async_context(opened_repair_tools(settings))
            written = stack.enter_context(
                progress.bar("re-drive", unit="obj", enabled=progress.wanted(args.no_progress))
            )
            run.summary["filters"] = {"entity": args.entity, "reason_like": args.reason_like}
            report = await redrive_dead_letters(
                tools.store,
                tools.registry,
                options=sink_options(settings).commit,
                catalog=tools.catalog,
                entity=args.entity,
                reason_like=args.reason_like,
                after_put=_counted(written),
            )
            run.summary.update(
                candidates=report.candidates,
                redriven=dict(report.redriven),
                resumed=report.resumed,
                objects_written=report.files,
                objects_read=report.objects_seen,
            )
        for entity, n in sorted(report.redriven.items()):
            if n:
                print(f"{entity:<22}{n:>8,} re-driven to bronze")
        resumed = f", {report.resumed:,} from an interrupted re-drive" if report.resumed else ""
        print(
            f"{report.total:,} of {report.candidates:,} outstanding dead letters now pass and are in bronze"
            f"{resumed}; {report.files:,} objects written ({report.objects_seen:,} dead-letter objects read)"
        )
        return 0

    return asyncio.run(main())


def cmd_reprocess(args: argparse.Namespace) -> int:
    from keystone_nexus.kafka.range_reader import KafkaRangeReader
    from keystone_nexus.repair.reprocess import reprocess
    from keystone_nexus.state.open import recording
    from keystone_nexus.wiring import kafka_security, sink_options

    if args.from_offset > args.to_offset:
        raise UsageError(
            f"--from-offset {args.from_offset} is after --to-offset {args.to_offset}: the range is "
            "inclusive, give --from-offset <= --to-offset"
        )
    contracts.entity_for_topic(args.topic)  # an unknown topic, before anything is opened
    settings = resolved_settings(args)

    async def main() -> int:
        async with contextlib.AsyncExitStack() as stack:
            tools = await stack.enter_async_context(opened_repair_tools(settings))
            if not args.dry_run:
                run = await stack.enter_async_context(recording(settings, "reprocess"))
            shown = not args.dry_run and progress.wanted(args.no_progress)
            written = stack.enter_context(progress.bar("reprocess", unit="obj", enabled=shown))
            security = kafka_security(settings.kafka, aws_region=settings.aws.region)
            source = KafkaRangeReader(
                settings.kafka.bootstrap_servers,
                security=security,
                isolation_level=settings.kafka.isolation_level,
            )
            report = await reprocess(
                tools.store,
                tools.registry,
                source,
                topic=args.topic,
                partition=args.partition,
                start=args.from_offset,
                end=args.to_offset,
                options=sink_options(settings).commit,
                catalog=tools.catalog,
                dry_run=args.dry_run,
                after_put=_counted(written),
            )
            if not args.dry_run:
                run.summary.update(
                    topic=args.topic,
                    partition=args.partition,
                    asked=[args.from_offset, args.to_offset],
                    rebuilt=[report.start, report.end],
                    records=report.records,
                    valid=report.valid,
                    dead=report.invalid,
                    objects_written=report.written,
                    objects_deleted=report.deleted,
                    resumed=report.resumed,
                )
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
