"""`nexus topics counts`: records per configured topic."""

from __future__ import annotations

import argparse
import asyncio

from keystone_nexus.cli.common import resolved_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics", required=True)
    counts = topics.add_parser("counts", help="records per configured topic")
    counts.set_defaults(func=cmd_topics_counts)


def cmd_topics_counts(args: argparse.Namespace) -> int:
    from keystone_nexus.kafka.admin import topic_counts
    from keystone_nexus.wiring import kafka_security

    settings = resolved_settings(args)
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
