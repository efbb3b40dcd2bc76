"""Writing a cell's results so that nothing partial ever looks complete.

Every file is written atomically (``fedbench.io``): an interrupted job leaves
either the old file, no file, or the new file, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fedbench.io import atomic_write_text

ROUND_COLUMNS = (
    "round",
    "test_loss",
    "test_accuracy",
    "sampled",
    "n_stragglers",  # how many of the round's clients straggled (a count; the cell's rate is
    # the config's `stragglers`)
    "dropped",
    "failed",
    "examples",
    "train_loss",
    "global_train_loss",  # federated evaluation: loss over every client's training data
    "seconds",
)
# Columns added after results were first written: older rounds.csv files lack them
# (aggregation fills them with NaN).
OPTIONAL_ROUND_COLUMNS = ("global_train_loss",)
# Columns renamed since: older rounds.csv files have the old name (their readers rename it).
RENAMED_ROUND_COLUMNS = {"stragglers": "n_stragglers"}
TIMING_COLUMNS = ("seconds",)


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _fmt(row.get(c, "")) for c in columns})
    return buf.getvalue()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)  # shortest repr that round-trips exactly
    return value


def write_rounds(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, csv_text(rows, ROUND_COLUMNS))


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


def _git(args: list[str], cwd: Path | None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=5
    ).stdout.strip()


def git_commit(cwd: Path | None = None) -> str | None:
    """HEAD's commit (with ``-dirty`` when the tree has changes), or None outside git."""
    try:
        head = _git(["rev-parse", "HEAD"], cwd)
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def versions() -> dict[str, str]:
    import flwr
    import numpy
    import torch

    import fedbench

    return {
        "fedbench": fedbench.__version__,
        "flwr": flwr.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
