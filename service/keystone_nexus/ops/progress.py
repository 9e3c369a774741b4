"""Progress for the long commands: a bar on a terminal, nothing in logs.

Every long command (`olist generate`, `replay`, `dlq redrive`, `reprocess`) takes
`--no-progress`, and shows no bar when stderr is not a terminal (systemd, CI, a pipe), so
its logs hold only its lines. The bar goes to stderr; the command's own summary to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

__all__ = ["bar", "estimated_rows", "wanted"]


def wanted(no_progress: bool) -> bool:
    """Whether to show a bar: not asked off, and stderr is a terminal."""
    return not no_progress and sys.stderr.isatty()


def bar(desc: str, *, unit: str, total: int | None = None, enabled: bool = True) -> tqdm[Any]:
    """A bar (with a rate, and an ETA when `total` is known), or a silent one."""
    return tqdm(
        desc=desc,
        total=total,
        unit=unit,
        unit_scale=unit == "ev",  # 1.2M ev; but 9 files, not 9.00
        mininterval=0.5,
        disable=not enabled,
        file=sys.stderr,
    )


def estimated_rows(path: Path) -> int:
    """The rows of a CSV or JSON-lines file, by its line count (a header and quoted line
    breaks make it a little high): a total for the bar, read at disk speed."""
    lines = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
    return max(0, lines - (1 if path.suffix == ".csv" else 0))
