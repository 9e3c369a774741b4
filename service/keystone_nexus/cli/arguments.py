"""What the commands' arguments may be, checked while parsing: a bad one stops the command
before it does anything, with one line naming the option and what it takes.

Each function is an argparse `type=`: it returns the value or raises ArgumentTypeError,
whose text argparse puts after the option's name; :class:`Parser` prints that as one line
(not the usage block) and exits with the usage status.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from keystone_nexus.config import bootstrap_servers, listen_address
from keystone_nexus.errors import ConfigError, ExitStatus


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line: `nexus replay: argument --rate: ... (see
    nexus replay --help)`. Subcommands' parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitStatus.USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_number(text: str) -> float:
    """A finite number > 0 (a scale, a rate, seconds)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a number > 0: {text!r}")
    return value


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"not a whole number {bound}: {text!r}")
        return value

    return parse


counted = whole_number(0)  # a count, an offset, a partition, a seed
at_least_one = whole_number(1)
port = whole_number(0, 65535)  # 0: any free one


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return path


def dataset_dir(text: str) -> Path:
    """The folder of an Olist dataset (its files are checked by olist.reader.dataset_plan)."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"no such folder: {text} (write a dataset there with `nexus olist generate --out {text}`, "
            "or give the folder of the Kaggle CSVs)"
        )
    return path


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def output_file(text: str) -> Path:
    """A file to (over)write: not a folder, in a folder that exists."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {path.parent} (create it first)")
    return path


def output_dir(text: str) -> Path:
    """A folder to write into (created when missing): not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return path


def listen(text: str) -> str:
    """HOST:PORT to serve on."""
    try:
        return listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def brokers(text: str) -> str:
    """HOST:PORT[,HOST:PORT...], as kafka.bootstrap_servers takes them."""
    try:
        return bootstrap_servers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def grpc_target(text: str) -> str:
    """grpc://HOST:PORT."""
    from keystone_nexus.ingest.client import parse_target

    try:
        parse_target(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
