"""`nexus secrets exec -- COMMAND...`: a process that cannot read Secrets Manager itself
(the C++ ingestion server) started with every `aws-secretsmanager:` reference in its
environment resolved.

The references are resolved with the same code, errors and AWS settings as every other
`nexus` command (a missing secret: exit 78 naming the variable; Secrets Manager not
answering: 69, so systemd tries again), then this process becomes COMMAND (exec: the
same PID, so systemd's notify and watchdog see the server). Values are never printed or
written to disk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil

from keystone_nexus.errors import UsageError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secrets = commands.add_parser("secrets", help="aws-secretsmanager: references for other programs")
    verbs = secrets.add_subparsers(dest="secrets", required=True)
    run = verbs.add_parser(
        "exec",
        help="run COMMAND with the secret references in its environment resolved (nexus secrets exec -- ...)",
    )
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG...]")
    run.set_defaults(func=cmd_exec)


def cmd_exec(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from keystone_nexus.aws.secrets import resolve_environment
    from keystone_nexus.config import ENV_NESTED, ENV_PREFIX, AwsSettings
    from keystone_nexus.errors import ConfigError
    from keystone_nexus.wiring import aws_options

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("nexus secrets exec: name the command to run after --")
    program = shutil.which(argv[0])
    if program is None:
        raise UsageError(f"nexus secrets exec: {argv[0]!r} is not an executable file or on PATH")
    # Only the AWS settings (region, endpoint) to read with: the others may be references
    # yet, which the full settings would refuse (a broker list that is not host:port).
    prefix = f"{ENV_PREFIX}AWS{ENV_NESTED}"
    given = {k.removeprefix(prefix).lower(): v for k, v in os.environ.items() if k.startswith(prefix) and v}
    try:
        aws = AwsSettings(**given)
    except ValidationError as exc:
        raise ConfigError(f"invalid AWS settings ({prefix}*): {exc.errors()[0]['msg']}") from None
    environ = asyncio.run(resolve_environment(os.environ, aws_options(aws)))
    os.execve(program, argv, environ)
    return 0  # not reached
