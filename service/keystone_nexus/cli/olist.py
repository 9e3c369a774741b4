"""`nexus olist generate`: a synthetic Olist dataset."""

from __future__ import annotations

import argparse

from keystone_nexus.cli.arguments import counted, output_dir, positive_number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    olist = commands.add_parser("olist", help="Olist datasets").add_subparsers(dest="olist", required=True)
    gen = olist.add_parser("generate", help="write a synthetic Olist dataset")
    gen.add_argument("--scale", type=positive_number, default=1.0, help="1.0 = the real dataset's size")
    gen.add_argument("--seed", type=counted, default=42)
    gen.add_argument("--out", type=output_dir, required=True)
    gen.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar (none when not a terminal)")
    gen.set_defaults(func=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    import time

    from keystone_nexus.contracts.entities import entities
    from keystone_nexus.olist.generate import generate
    from keystone_nexus.ops import progress

    started = time.monotonic()
    shown = progress.wanted(args.no_progress)
    with progress.bar("generate", unit="file", total=len(entities()), enabled=shown) as bar:
        counts = generate(
            args.out, scale=args.scale, seed=args.seed, fmt=args.format, on_written=lambda *_: bar.update(1)
        )
    elapsed = time.monotonic() - started
    for name, rows in counts.items():
        print(f"{rows:>10,}  {name}")
    print(f"{sum(counts.values()):>10,}  rows in {elapsed:.1f} s -> {args.out}")
    return 0
