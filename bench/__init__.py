"""Benchmarks: each module here prints figures and asserts nothing about time.

`python -m bench.run` (what `make bench` calls) runs every module in this package as
its own process, `python -m bench.<name>`, and keeps what it printed in
`bench/results/<name>.json` and `bench/results/summary.md`. A module with structured
figures prints them as one last line `BENCH_RESULT <json>` (see `bench.run`).
Scratch data of a run goes under `bench/results/tmp/` (ignored by git) and is removed.
"""
