"""`nexus dev up|down`: the local stack (Tansu broker and the moto AWS stand-in)."""

from __future__ import annotations

import argparse
from pathlib import Path

from keystone_nexus.contracts import entities as contracts


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser("dev", help="the local stack").add_subparsers(dest="dev", required=True)
    up = dev.add_parser("up", help="start the local broker and AWS stand-in")
    up.add_argument("--state-dir", type=Path, required=True)
    up.add_argument("--partitions", type=int, default=6)
    up.set_defaults(func=cmd_dev_up)
    down = dev.add_parser("down", help="stop what `dev up` started")
    down.add_argument("--state-dir", type=Path, required=True)
    down.set_defaults(func=cmd_dev_down)


def cmd_dev_up(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack as devstack

    info = devstack.up(args.state_dir, topics=contracts.topics(), partitions=args.partitions)
    print(f"broker      {info.bootstrap_servers}")
    print(f"aws (moto)  {info.aws_endpoint_url}")
    print(f"lake        {info.lake_uri}")
    print(f"settings    {args.state_dir / 'env'}   (source it: set -a; . {args.state_dir / 'env'}; set +a)")
    return 0


def cmd_dev_down(args: argparse.Namespace) -> int:
    from keystone_nexus.dev import stack as devstack

    stopped = devstack.down(args.state_dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0
