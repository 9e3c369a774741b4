"""`nexus demo`: the whole journey, from the local stack to gold, in one command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keystone_nexus.cli.arguments import at_least_one, counted, positive_number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="the whole journey: stack, dataset with bad events, gRPC server, sink, transform"
    )
    demo.add_argument("--state-dir", type=Path, default=Path(".state/demo"))
    demo.add_argument("--scale", type=positive_number, default=0.1)
    demo.add_argument("--seed", type=counted, default=42)
    demo.add_argument("--server", choices=["auto", "cpp", "twin"], default="auto", help="auto: C++ if built")
    demo.add_argument("--lake", choices=["local", "s3"], default="local", help="s3: the bucket in moto")
    demo.add_argument("--partitions", type=at_least_one, default=6)
    demo.set_defaults(func=cmd_demo)


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
