"""Where `nexus run` spends its time: one run sampled by py-spy, its raw samples folded
into the hottest functions (self and inclusive) and the share per thread.

`python -m bench.sink --profile` calls `sample` once after the variants, on the same
data (py-spy comes from bench/requirements.txt); `describe` gives the report's lines.
Standard library only, like bench.harness.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.harness import POLL_S, Child


def sample(
    command: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    state: Path,
    done: Callable[[], bool],
    timeout: float,
    top: int = 12,
) -> dict[str, Any]:
    """Run `command` (in a fresh `cwd`) under py-spy until `done()`, then stop it; the
    hottest functions (`hotspots`), or {"error": why} when there are no samples."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return {"error": "py-spy is not installed (pip install -r bench/requirements.txt)"}
    cwd.mkdir()
    raw = state / "profile.txt"
    argv = [spy, "record", "--rate", "200", "--format", "raw", "--output", str(raw)]
    argv += ["--threads", "--subprocesses", "--nonblocking", "--"]
    argv += list(command)
    child = Child(argv, env=env, cwd=cwd, log_path=state / "logs" / "profile.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.running() and not done():
        time.sleep(POLL_S)
    # Stop the sink itself (py-spy's child); py-spy writes its file when its target exits.
    for pid in children_of(child.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    child.finish(terminate=False, timeout=60)
    if not raw.exists():
        return {"error": f"py-spy wrote nothing: {child.log_tail()}"}
    return hotspots(raw.read_text(), top)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


_PROCESS_ENTRIES = re.compile(r'(process \d+:"[^"]*";)+')  # a command line may hold ";"


def hotspots(collapsed: str, top: int) -> dict[str, Any]:
    """Where `nexus run` spends its running time, from py-spy's raw output.

    A raw line is `process <pid>:<cmd>;[process <pid>:<cmd>;]thread (tid): name;frame;
    frame... count` (with --subprocesses: a second process entry for a worker process);
    only running threads are sampled (no --idle). Samples inside imports (start-up) are
    counted apart; of the rest: the share per thread (a worker process's threads count
    as "worker process"), per function on top of the stack (self), and per
    keystone_nexus function anywhere on the stack (inclusive).
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = imports = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        owners = _PROCESS_ENTRIES.match(stack)
        processes = owners.group(0).count("process ") if owners else 0
        head, *rest = stack[owners.end() if owners else 0 :].split(";")
        frames = [frame_name(f) for f in rest]
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(f.endswith(":_find_and_load") for f in frames):
            imports += count
            continue
        total += count
        thread = re.sub(r"_\d+$", "", head.partition(": ")[2]) or "(unnamed)"
        threads["worker process" if processes > 1 else thread] += count
        own[frames[-1]] += count
        for name in set(frames):
            if name.startswith("keystone_nexus/"):
                inclusive[name] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, round(100 * c / max(total, 1), 1)) for name, c in counter.most_common(n)]

    return {
        "samples": total,
        "import_samples": imports,
        "self_pct": share(own, top),
        "inclusive_pct": share(inclusive, top),
        "threads_pct": share(threads, 8),
    }


def frame_name(frame: str) -> str:
    """`function (path/to/file.py:123)` -> `file.py:function` with a short path."""
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "service/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{function}"


def describe(profile: dict[str, Any]) -> list[str]:
    """The report's lines for a `sample` result."""
    if "error" in profile:
        return [f"profile: {profile['error']}"]
    out = [
        f"py-spy on `nexus run` (default settings), {profile['samples']:,} samples of running "
        f"threads at 200/s, not counting {profile['import_samples']:,} in start-up imports:"
    ]
    out.append("  by thread: " + ", ".join(f"{n} {p}%" for n, p in profile["threads_pct"]))
    out.append("  self (top of stack):")
    out += [f"    {p:5.1f}%  {n}" for n, p in profile["self_pct"]]
    out.append("  inclusive, keystone_nexus functions:")
    out += [f"    {p:5.1f}%  {n}" for n, p in profile["inclusive_pct"]]
    return out
