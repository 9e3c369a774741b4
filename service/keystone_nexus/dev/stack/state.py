"""The state dir: everything about one stack lives in it::

    state_dir/stack.json     pids (+ command lines and start times), ports, settings
    state_dir/env            KEY=VALUE lines for `set -a; . state_dir/env`
    state_dir/logs/*.log     the processes' stdout/stderr
    state_dir/.lock          serialises up/down on the same dir

stack.json is written atomically (a temporary file, then rename), so a reader sees the
old record or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from keystone_nexus.dev.stack.info import LOCK_FILE, STATE_FILE, DevStackError, StackInfo
from keystone_nexus.dev.stack.process import ManagedProcess

__all__ = [
    "load_info",
    "locked",
    "processes",
    "read_state",
    "recorded_processes",
    "write_atomic",
    "write_state",
]

_STATE_VERSION = 1


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold the state dir's lock (made with the dir if need be) for one up/down/restart."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = (state_dir / LOCK_FILE).open("a")
    except OSError as exc:
        raise DevStackError(f"cannot use {state_dir} as the stack's state dir: {exc}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    path = Path(state_dir) / STATE_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DevStackError(f"cannot read {path}: {exc}") from exc
    return data


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_state(
    state_dir: Path,
    info: StackInfo,
    procs: Mapping[str, ManagedProcess],
    *,
    state: str,
) -> None:
    data = {
        "version": _STATE_VERSION,
        "state": state,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "info": info.to_json(),
        "processes": {name: proc.to_json() for name, proc in procs.items()},
    }
    write_atomic(Path(state_dir) / STATE_FILE, json.dumps(data, indent=2) + "\n")


def recorded_processes(data: Mapping[str, Any] | None) -> dict[str, ManagedProcess]:
    if not data:
        return {}
    return {name: ManagedProcess.from_json(rec) for name, rec in data.get("processes", {}).items()}


def load_info(state_dir: Path) -> StackInfo | None:
    """The StackInfo recorded in `state_dir` (alive or not), or None."""
    data = read_state(Path(state_dir))
    return StackInfo.from_json(data["info"]) if data else None


def processes(state_dir: Path) -> dict[str, ManagedProcess]:
    """Handles on the recorded processes ("broker", "moto"), e.g. to pause moto."""
    return recorded_processes(read_state(Path(state_dir)))
