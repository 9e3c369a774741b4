"""`nexus topics counts`: records per configured topic (--json: one JSON document)."""

from __future__ import annotations

import argparse

from keystone_nexus.cli.common import count_topics, print_json, print_table, resolved_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics", required=True)
    counts = topics.add_parser("counts", help="records per configured topic")
    counts.add_argument(
        "--json", action="store_true", help="one JSON document on stdout instead of the table"
    )
    counts.set_defaults(func=cmd_topics_counts)


def cmd_topics_counts(args: argparse.Namespace) -> int:
    settings = resolved_settings(args)
    counts = count_topics(settings, list(settings.kafka.topics))
    if args.json:
        print_json({"topics": counts, "total": sum(counts.values())})
        return 0
    rows: list[list[object]] = [[topic, count] for topic, count in counts.items()]
    print_table(["topic", "records"], [*rows, ["total", sum(counts.values())]])
    return 0
