"""Progress on a terminal, silence in logs: `olist generate` draws its bar on stderr when
that is a terminal, and neither with --no-progress nor into a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path


def _generate(out: Path, *extra: str, terminal: bool) -> str:
    """`nexus olist generate` at a tiny scale; what it wrote on stderr."""
    command = [
        sys.executable,
        "-m",
        "keystone_nexus",
        "olist",
        "generate",
        "--scale",
        "0.001",
        "--out",
        str(out),
    ]
    if not terminal:
        piped = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=120, check=True)
        return piped.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a sized terminal
    try:
        done = subprocess.run(
            [*command, *extra], stdout=subprocess.DEVNULL, stderr=follower, timeout=120, check=True
        )
        assert done.returncode == 0
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: all of it was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(leader)


def test_a_bar_on_a_terminal_only_and_never_with_no_progress(tmp_path: Path) -> None:
    shown = _generate(tmp_path / "a", terminal=True)
    assert "generate" in shown and "9/9" in shown and "file" in shown
    assert _generate(tmp_path / "b", "--no-progress", terminal=True) == ""
    assert _generate(tmp_path / "c", terminal=False) == ""
