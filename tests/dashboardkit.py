"""Start `nexus dashboard` as a process and read its /api/about (tests of where its
settings come from)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any


def dashboard_about(
    env: dict[str, str], port: int, *, timeout_s: float = 60
) -> tuple[dict[str, Any] | None, str]:
    """Run `nexus dashboard` with `env` until its /api/about on loopback `port` answers
    (or it exits, or `timeout_s` passes); (the answer or None, what it wrote on stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "keystone_nexus", "dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    about = None
    try:
        deadline = time.monotonic() + timeout_s
        while about is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/about", timeout=2) as answer:
                    about = json.loads(answer.read())
            except OSError:
                time.sleep(0.2)
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=30)
    return about, errors
