"""Run every benchmark module in bench/, each as its own process, and keep what it printed.

    .venv/bin/python -m bench.run [NAME ...] [--args NAME='--flag value' ...]

With no NAME, every module of the package except this one and the shared ones
(NOT_BENCHMARKS; today: ingest, journey, sink, validate_batch).
For each: `python -m bench.<name> [args]`, its output shown as it runs, then
`bench/results/<name>.json` = {name, command, when, seconds, returncode, output, result},
where `result` is the JSON of the module's last `BENCH_RESULT <json>` line, if any.
`bench/results/summary.md` is then rebuilt from every results/*.json present.
Exits non-zero when a benchmark failed to run; figures never fail it.
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import RESULT_PREFIX, RESULTS

BENCH = Path(__file__).resolve().parent
# This runner and the modules the benchmarks share are not benchmarks.
NOT_BENCHMARKS = {"run", "harness", "sink_profile", "sink_report"}


def discover() -> list[str]:
    """The benchmark modules present in bench/."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(BENCH)])
        if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS
    )


def run_one(name: str, args: Sequence[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", f"bench.{name}", *args]
    print(f"\n=== bench.{name} {shlex.join(args)}".rstrip(), flush=True)
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    started = time.monotonic()
    output: list[str] = []
    result: Any = None
    # stdout is kept; stderr (client library chatter) goes straight to the terminal.
    with subprocess.Popen(command, cwd=BENCH.parent, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line[len(RESULT_PREFIX) :])
                continue
            output.append(line)
            print(line, end="", flush=True)
    return {
        "name": name,
        "command": shlex.join(["python", *command[1:]]),
        "when": when,
        "seconds": round(time.monotonic() - started, 1),
        "returncode": proc.returncode,
        "output": "".join(output),
        "result": result,
    }


def summary(records: Sequence[dict[str, Any]]) -> str:
    """Markdown of every benchmark's latest run."""
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`) from `bench/results/*.json`; each",
        "section is the latest run of one benchmark, as it printed it. Figures, not assertions.",
    ]
    for record in records:
        status = "ok" if record["returncode"] == 0 else f"FAILED (exit {record['returncode']})"
        out += [
            "",
            f"## {record['name']}",
            "",
            f"`{record['command']}` — {record['when']}, {record['seconds']:.0f} s, {status}",
            "",
        ]
        result = record.get("result") or {}
        if result.get("markdown"):
            out += [result["markdown"], ""]
        out += ["```text", record["output"].rstrip(), "```"]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="extra arguments for one benchmark, e.g. --args sink='--events 100000'",
    )
    options = parser.parse_args(argv)
    present = discover()
    names = options.names or present
    unknown = sorted(set(names) - set(present))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; present: {', '.join(present)}")
    extra: dict[str, list[str]] = {}
    for item in options.args:
        name, sep, text = item.partition("=")
        if not sep or name not in present:
            parser.error(f"--args wants NAME=ARGS with NAME one of {', '.join(present)}, got {item!r}")
        extra[name] = shlex.split(text)

    RESULTS.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in names:
        record = run_one(name, extra.get(name, []))
        (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        if record["returncode"] != 0:
            failed.append(name)
    records = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    (RESULTS / "summary.md").write_text(summary(records))
    print(f"\nresults: {RESULTS.relative_to(BENCH.parent)}/{{{','.join(names)}}}.json, summary.md")
    if failed:
        print(f"FAILED to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
