"""`nexus state migrate|batches|runs|rebuild`: the PostgreSQL state database (state/)."""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from typing import Any

from keystone_nexus.cli.arguments import whole_number
from keystone_nexus.cli.common import print_json, print_table, resolved_settings

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since(text: str) -> float:
    """`--since`: 30m, 6h, 2d (ago) or an ISO date/time; seconds since the epoch."""
    from datetime import UTC, datetime

    match = _AGO.match(text)
    if match:
        return time.time() - int(match[1]) * _UNIT_S[match[2]]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (30m, 6h, 2d) nor an ISO time"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    state = commands.add_parser("state", help="the PostgreSQL state database (NEXUS_STATE__DSN)")
    verbs = state.add_subparsers(dest="state", required=True)
    verbs.add_parser("migrate", help="create or upgrade the schema nexus").set_defaults(func=cmd_migrate)
    batches = verbs.add_parser("batches", help="committed batches, newest first")
    batches.add_argument("--topic", help="only this topic")
    runs = verbs.add_parser("runs", help="re-drive, reprocess and transform runs, newest first")
    runs.add_argument("--kind", choices=["redrive", "reprocess", "transform"], help="only this kind")
    for verb in (batches, runs):
        verb.add_argument("--since", type=since, help="30m, 6h, 2d ago, or an ISO time")
        verb.add_argument("--limit", type=whole_number(1), default=50, help="at most this many rows (50)")
        verb.add_argument("--json", action="store_true", help="one JSON document on stdout")
    batches.set_defaults(func=cmd_batches)
    runs.set_defaults(func=cmd_runs)
    rebuild = verbs.add_parser(
        "rebuild", help="rebuild nexus.batches from the lake's objects and checkpoints"
    )
    rebuild.add_argument("--topic", help="only this topic")
    rebuild.set_defaults(func=cmd_rebuild)


def cmd_migrate(args: argparse.Namespace) -> int:
    from keystone_nexus.state.open import migrated, where

    settings = resolved_settings(args)
    applied = asyncio.run(migrated(settings))
    print(f"schema nexus at {where(settings)}: " + (f"applied {applied}" if applied else "up to date"))
    return 0


async def _read(settings: Any, what: str, **filters: Any) -> list[dict[str, Any]]:
    from keystone_nexus.state import ledger
    from keystone_nexus.state.open import connector

    conn = await connector(settings)()
    try:
        reader = ledger.read_batches if what == "batches" else ledger.read_runs
        return await reader(conn, **filters)
    finally:
        await conn.close()


def cmd_batches(args: argparse.Namespace) -> int:
    rows = asyncio.run(
        _read(resolved_settings(args), "batches", topic=args.topic, since=args.since, limit=args.limit)
    )
    columns = [
        ("committed_at", "committed"),
        ("topic", "topic"),
        ("partition", "part"),
        ("first_offset", "first"),
        ("last_offset", "last"),
        ("valid_records", "valid"),
        ("dead_records", "dead"),
        ("objects", "objects"),
        ("source", "source"),
    ]
    if args.json:
        print_json(rows)
    else:
        print_table([title for _, title in columns], [[row[key] for key, _ in columns] for row in rows])
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    rows = asyncio.run(
        _read(resolved_settings(args), "runs", kind=args.kind, since=args.since, limit=args.limit)
    )
    columns = [
        ("started_at", "started"),
        ("kind", "kind"),
        ("run_id", "run"),
        ("status", "status"),
        ("finished_at", "finished"),
        ("steps", "steps"),
    ]
    if args.json:
        print_json(rows)
    else:
        print_table([title for _, title in columns], [[row[key] for key, _ in columns] for row in rows])
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from keystone_nexus.state.rebuild import rebuild_ledger

    settings = resolved_settings(args)
    report = asyncio.run(rebuild_ledger(settings, topic=args.topic))
    print(
        f"rebuilt nexus.batches from {settings.lake.uri}: {report.partitions} partitions, "
        f"{report.rows} rows, {report.records:,} records ({report.objects} objects read)"
    )
    return 0
