"""The `nexus` command line: the top-level parser, each area's commands registered by
its own module (beside their handlers), and the one place errors become exit codes.

Exit codes: 0 done; 1 done, but something did not balance (rows rejected, events not
acked, GX failed); 2 a usage error or a `NexusError` (its message names what to fix);
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from keystone_nexus import __version__
from keystone_nexus.cli import (
    arguments,
    dashboard,
    demo,
    dev,
    ingest,
    lake,
    olist,
    ops,
    replay,
    schemas,
    sink,
    topics,
    transform,
)
from keystone_nexus.errors import NexusError

# In the order `nexus --help` lists them.
AREAS = (olist, schemas, replay, ingest, sink, lake, ops, dashboard, topics, transform, dev, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.Parser(prog="nexus", description="Keystone Nexus streaming-lakehouse ingestion")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (environment variables win)")
    commands = parser.add_subparsers(dest="command", required=True)
    for area in AREAS:
        area.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already said)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.func(args)
    except NexusError as exc:
        print(f"nexus: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
