"""`nexus run`: the bronze sink daemon."""

from __future__ import annotations

import argparse
import asyncio

from keystone_nexus.cli.arguments import positive_number
from keystone_nexus.config import load_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run the bronze sink daemon")
    run.add_argument(
        "--log-level",
        type=str.lower,
        choices=["debug", "info", "warn", "warning", "error"],
        help="default NEXUS_SINK__LOG_LEVEL (info)",
    )
    run.add_argument(
        "--until-idle",
        type=positive_number,
        metavar="SECONDS",
        help="exit once everything consumed is written and nothing arrived for SECONDS (batch runs, demos)",
    )
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from keystone_nexus.ops import logs
    from keystone_nexus.wiring import run_sink

    # Secret references are resolved by run_sink, under start-up's waits: Secrets Manager
    # down at start is waited for like Kafka or S3, not a failure.
    settings = load_settings(args.config)
    logs.configure(args.log_level or settings.sink.log_level)
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
