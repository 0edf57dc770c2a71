"""Live progress as a person sees it: the CLI under a pseudo-terminal draws a line per stage;
on a pipe, or with --quiet, nothing animated is written."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.support import REPO_ROOT as REPO

SAMPLE = str(REPO / "data" / "sample_reviews.csv")
STAGES = ("read", "clean", "write_rejected", "write_curated", "analyses", "write_analyses")
BAR = "━"  # rich's bar glyph
ESCAPE = "\x1b["


def run_on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``reviews-etl ARGV`` with stdin, stdout and stderr on a 120x40 pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.chdir(cwd)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        os.execve(sys.executable, [sys.executable, "-m", "reviews_etl.cli", *argv], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_a_terminal_shows_one_line_per_stage(tmp_path: Path) -> None:
    code, screen = run_on_a_terminal(["run", SAMPLE, "--output", str(tmp_path / "out")], tmp_path)
    assert code == 0, screen[-3000:]
    assert BAR in screen
    assert ESCAPE in screen
    drawn = [line for line in screen.splitlines() if BAR in line]
    for stage in STAGES:
        assert any(stage in line for line in drawn), stage
    assert "Spark tasks" in screen
    assert "rows read" in screen  # the summary still follows


@pytest.mark.slow
def test_quiet_and_pipes_get_nothing_animated(tmp_path: Path) -> None:
    code, screen = run_on_a_terminal(
        ["run", SAMPLE, "--output", str(tmp_path / "quiet"), "--quiet"], tmp_path
    )
    assert code == 0
    assert BAR not in screen
    assert "rows read" in screen

    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "reviews_etl.cli",
            "run",
            SAMPLE,
            "--output",
            str(tmp_path / "p"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert piped.returncode == 0, piped.stderr
    assert BAR not in piped.stderr
    assert ESCAPE not in piped.stderr
    assert piped.stdout.lstrip().startswith("{")  # --json output untouched
