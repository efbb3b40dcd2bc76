"""`fedbench run` progress: one line rewritten in place on a terminal, one line per round
anywhere else (a pipe, a log file)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from fedbench.apps.progress import ERASE_LINE, Progress

REPO = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_rewritten_and_ended_after_the_last_round() -> None:
    stream = Terminal()
    show = Progress(3, stream)
    for rnd in range(4):
        show(rnd, 0.5, 1.0, float(rnd))
    text = stream.getvalue()
    assert text.count(ERASE_LINE) == 4 and text.count("\n") == 1 and text.endswith("\n")
    assert text.split(ERASE_LINE)[-1].startswith("round    3/3")


def test_a_note_after_an_open_line_starts_a_new_line() -> None:
    stream = Terminal()
    show = Progress(100, stream)
    show(5, 0.5, 1.0, 1.0)
    show.note("run diverged at round 5")
    assert stream.getvalue().endswith("ETA  19.0s\nrun diverged at round 5\n")


def test_elsewhere_every_round_is_its_own_line() -> None:
    stream = io.StringIO()
    show = Progress(3, stream)
    for rnd in range(4):
        show(rnd, 0.5, 1.0, float(rnd))
    lines = stream.getvalue().splitlines()
    assert [line.split("/")[0] for line in lines] == [f"round {r:4d}" for r in range(4)]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def _run(tiny_config: Path, out: Path, stderr) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fedbench.cli", "run", "--config", str(tiny_config),
         "--out", str(out), "--seed", "1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)


def _read_all(fd: int, process: subprocess.Popen) -> str:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_fedbench_run_on_a_pty_rewrites_its_progress_line(tiny_config: Path,
                                                          tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    process = _run(tiny_config, tmp_path / "tty", follower)
    os.close(follower)
    text = _read_all(leader, process)
    os.close(leader)
    assert process.wait(timeout=120) == 0, text
    progress = [part for part in text.split(ERASE_LINE)[1:]]
    assert len(progress) == 4  # rounds 0..3, each written over the last
    assert all("\n" not in part for part in progress[:-1])
    assert progress[-1].startswith("round    3/3") and "\nok: round 3" in progress[-1]


@pytest.mark.slow
def test_fedbench_run_into_a_pipe_writes_one_line_per_round(tiny_config: Path,
                                                            tmp_path: Path) -> None:
    process = _run(tiny_config, tmp_path / "pipe", subprocess.PIPE)
    _, err = process.communicate(timeout=120)
    text = err.decode()
    assert process.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text
    rounds = [line for line in text.splitlines() if line.startswith("round ")]
    assert [line[:12] for line in rounds] == [f"round {r:4d}/3" for r in range(4)]
