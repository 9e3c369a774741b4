"""Benchmarks: each module here prints figures and asserts nothing about time.

`python -m bench.run` (what `make bench` calls) runs every benchmark module in this
package as its own process, `python -m bench.<name>`, and keeps what it printed in
`bench/results/<name>.json` and `bench/results/summary.md`; bench.run itself and the
modules the benchmarks share (bench.harness, bench.sink_profile, bench.sink_report)
are not run. A module with structured figures prints them as one last line
`BENCH_RESULT <json>` (`bench.harness.emit_result`, read by `bench.run`).
Scratch data of a run goes under `bench/results/tmp/` (ignored by git) and is removed.
"""
