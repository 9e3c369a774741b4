"""The `nexus` command line: the top-level parser, each area's commands registered by
its own module (beside their handlers), and the one place errors become exit statuses.

The statuses are `errors.ExitStatus` (listed by `nexus --help` and the operator's guide):
a usage error is USAGE, a `NexusError` one line on stderr and its `errors.exit_status`,
any other exception (a bug) its traceback and SOFTWARE.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import traceback
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
    secrets,
    sink,
    state,
    topics,
    transform,
)
from keystone_nexus.errors import EXIT_STATUSES, ExitStatus, NexusError, exit_status

CONFIG_HELP = "TOML settings file (environment variables win); before or after the command"

# In the order `nexus --help` lists them.
AREAS = (
    olist,
    schemas,
    replay,
    ingest,
    sink,
    lake,
    state,
    ops,
    dashboard,
    topics,
    secrets,
    transform,
    dev,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.Parser(
        prog="nexus",
        description="Keystone Nexus streaming-lakehouse ingestion",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, help=CONFIG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    for area in AREAS:
        area.register(commands)
    for command in _commands(parser):
        # After the command too (`nexus run --config x.toml`); SUPPRESS leaves the one
        # given before it in place when it is not repeated here.
        command.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (the leaves under `parser`), each once (an alias
    names the same parser)."""
    found: dict[int, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse keeps its subcommands only there
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for leaf in _commands(sub) or [sub]:
                    found[id(leaf)] = leaf
    return list(found.values())


def epilog() -> str:
    """The exit statuses, as `nexus --help` ends."""
    lines = ["exit statuses:"]
    for status, meaning in EXIT_STATUSES.items():
        lines += textwrap.wrap(
            meaning, width=92, initial_indent=f"  {status:<4} {status.name:<12} ", subsequent_indent=" " * 20
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already said)
        return exc.code if isinstance(exc.code, int) else ExitStatus.USAGE
    try:
        code: int = args.func(args)
    except NexusError as exc:
        print(f"nexus: {exc}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Exception:
        traceback.print_exc()
        return ExitStatus.SOFTWARE
    return code


if __name__ == "__main__":
    sys.exit(main())
