"""The whole journey at Olist scale: `nexus demo`'s stages, timed, with the sink's progress
sampled from its /status every half second.

    .venv/bin/python -m bench.journey [--scale 1.0] [--server auto|cpp|twin] [--lake local|s3]

One run (keystone_nexus.journey.run_journey, state in bench/results/tmp/journey): a fresh
local stack (6 partitions), a generated dataset at --scale, sent through the ingestion server
(streams of batches of 500) with the bronze sink consuming meanwhile, the sink until every
record is committed, then the transform. Figures: the seconds of every stage, events/s
through the server (client, server, broker and sink share the machine's cores; bench.ingest
measures replay --via from CSV alone), the sink's rows/s from its first committed batch to
its last (it consumes while the events arrive, so the arrival rate bounds it; bench.sink
measures the sink alone), peak lag, and the accounting (which must balance).
bench/results/journey.png charts the sink's committed rows/s and its offset lag over the
run. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, SCRATCH_ROOT, emit_result
from keystone_nexus.journey import JourneyOptions, JourneyResult, Sample, render, run_journey


def rates(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    """(time, committed rows/s since the previous sample) for each sample after the first."""
    return [
        (b.t_s, (b.records - a.records) / (b.t_s - a.t_s))
        for a, b in itertools.pairwise(samples)
        if b.t_s > a.t_s
    ]


def sink_rate(samples: Sequence[Sample]) -> float:
    """Rows/s from the sample before the first commit to the first sample showing all."""
    if not samples or samples[-1].records == 0:
        return 0.0
    total = samples[-1].records
    start = max((s.t_s for s in samples if s.records == 0), default=samples[0].t_s)
    end = min(s.t_s for s in samples if s.records >= total)
    return total / (end - start) if end > start else 0.0


def chart(result: JourneyResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result.samples
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    points = rates(samples)
    top.plot([t for t, _ in points], [r / 1000 for _, r in points], color="tab:blue")
    top.set_ylabel("committed k rows/s")
    top.set_title(
        f"Journey at Olist scale {result.options.scale}: bronze sink over the run "
        f"({result.server.split(' at ')[0]})"
    )
    bottom.plot(
        [s.t_s for s in samples], [s.offset_lag / 1000 for s in samples], color="tab:red", label="lag"
    )
    bottom.plot(
        [s.t_s for s in samples], [s.records / 1000 for s in samples], color="tab:green", label="committed"
    )
    bottom.set_ylabel("k records")
    bottom.set_xlabel("seconds since the sink started")
    bottom.legend(loc="upper left")
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def figures(result: JourneyResult) -> dict[str, Any]:
    via = result.via
    peak = max(result.samples, key=lambda s: s.offset_lag) if result.samples else None
    return {
        "scale": result.options.scale,
        "server": result.server.split(" at ")[0],
        "lake": result.options.lake,
        "seconds": result.seconds,
        "total_seconds": round(sum(result.seconds.values()), 1),
        "events_sent": result.sent,
        "events_accepted": result.accepted,
        "events_rejected": result.rejected,
        "straight_to_kafka": len(result.bad_records),
        "bronze_rows": result.bronze_rows,
        "dead_lettered": result.dead_lettered,
        "balanced": result.in_kafka == result.bronze_rows + result.dead_lettered,
        "ingest_events_per_s": round(via.total_sent / via.elapsed_s) if via.elapsed_s else 0,
        "sink_rows_per_s": round(sink_rate(result.samples)),
        "peak_offset_lag": peak.offset_lag if peak else 0,
        "samples": len(result.samples),
        "load_average": os.getloadavg()[0],
    }


def table(f: dict[str, Any]) -> str:
    lines = [
        "| scale | server | events sent | bronze rows | dead | balanced | ingest ev/s | sink rows/s "
        "| peak lag | total s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {f['scale']} | {f['server']} | {f['events_sent']:,} | {f['bronze_rows']:,} "
        f"| {f['dead_lettered']} | {f['balanced']} | {f['ingest_events_per_s']:,} "
        f"| {f['sink_rows_per_s']:,} | {f['peak_offset_lag']:,} | {f['total_seconds']} |",
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {stage} | {s} |" for stage, s in f["seconds"].items()),
        "",
        "![throughput and lag over the run](journey.png)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--server", choices=["auto", "cpp", "twin"], default="auto")
    parser.add_argument("--lake", choices=["local", "s3"], default="local")
    parser.add_argument("--chart", type=Path, default=RESULTS / "journey.png")
    options = parser.parse_args(argv)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    result = run_journey(
        JourneyOptions(
            state_dir=SCRATCH_ROOT / "journey",
            scale=options.scale,
            server=options.server,
            lake=options.lake,
        ),
        say=lambda line: print(line, flush=True),
    )
    print(render(result))
    found = figures(result)
    options.chart.parent.mkdir(parents=True, exist_ok=True)
    chart(result, options.chart)
    markdown = table(found)
    print(markdown)
    timeline = [asdict(s) for s in result.samples]
    emit_result({**found, "markdown": markdown, "timeline": timeline})
    return 0 if found["balanced"] else 1


if __name__ == "__main__":
    sys.exit(main())
