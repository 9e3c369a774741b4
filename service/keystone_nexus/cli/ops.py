"""Operating a deployment: `nexus config docs` (the settings reference), `nexus cloudwatch
dashboard|alarms` (as code, --apply puts them) and `nexus top` (a running sink, live)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from keystone_nexus.cli.arguments import at_least_one, counted, output_file, positive_number
from keystone_nexus.cli.common import print_json, resolved_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="settings").add_subparsers(dest="config_cmd", required=True)
    docs = config.add_parser("docs", help="the configuration reference (Markdown) generated from the model")
    docs.add_argument("--out", type=output_file, help="write here instead of stdout (docs/configuration.md)")
    docs.set_defaults(func=cmd_config_docs)

    cloudwatch = commands.add_parser("cloudwatch", help="CloudWatch dashboard and alarms as code")
    cw = cloudwatch.add_subparsers(dest="what", required=True)
    for what in ("dashboard", "alarms"):
        sub = cw.add_parser(what, help=f"print (and with --apply, put) the {what}")
        sub.add_argument("--apply", action="store_true")
        sub.add_argument("--name", help="dashboard name (default keystone-nexus-<group>)")
        sub.add_argument("--lag-threshold", type=counted, default=100_000)
        sub.add_argument("--lag-periods", type=at_least_one, default=5)
        sub.add_argument("--action", action="append", default=[], help="alarm action ARN (repeatable)")
        sub.set_defaults(func=cmd_cloudwatch)

    top = commands.add_parser("top", help="live per-partition lag and rates of a running sink")
    top.add_argument("--url", help="the sink's health endpoint (default from settings)")
    top.add_argument("--interval", type=positive_number, default=2.0)
    top.add_argument("--once", action="store_true", help="print one screen and exit")
    top.set_defaults(func=cmd_top)


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

    settings = resolved_settings(args)
    group, topics = settings.kafka.group_id, list(settings.kafka.topics)
    name = args.name or f"keystone-nexus-{group}"
    if args.what == "dashboard":
        body: object = dashboards.dashboard_body(group, topics, settings.aws.region)
    else:
        body = dashboards.alarms(
            group, topics, lag_threshold=args.lag_threshold, lag_periods=args.lag_periods, actions=args.action
        )
    print_json(body)
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
        health = resolved_settings(args).health
        url = f"http://{health.host}:{health.port}"
    try:
        run(url, args.interval, args.once)
    except OSError as exc:
        print(f"nexus: cannot read {url}/status: {exc}", file=sys.stderr)
        return 2
    return 0
