"""The one reader of a run directory: RUN_DIR/rounds.csv and RUN_DIR/run.json, checked.

``fedbench aggregate`` and ``fedbench targets`` read the same files a cell wrote
(``fedbench.apps.results``); reading them in one place means a file that one of them
refuses, the other refuses too, with the same message naming the file.

What is checked, because a table silently built from broken or partial runs would be worse
than no table: the files exist and parse; run.json holds every key the tables need and a
known status; rounds.csv has every round column, numbers only, each round once; and the
file ends where run.json says the run ended (the configured round count for a finished run,
the round of ``stopped_at_target`` for a run that stopped at its target accuracy).

Encodings of older files are accepted and normalised here, so that nothing above has to
know them: ``batch_size`` null (B = ∞ before it was written as ``FULL_BATCH``, 0) is 0, a
rounds.csv without an optional column gets NaN, and a run.json without
``stopped_at_target`` did not stop early.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.algorithms import label
from fedbench.apps.results import OPTIONAL_ROUND_COLUMNS, ROUND_COLUMNS
from fedbench.config import FULL_BATCH
from fedbench.errors import UsageError

RUN_FILE = "run.json"
ROUNDS_FILE = "rounds.csv"
STATUSES = ("ok", "diverged")
VERSIONED = ("fedbench", "flwr", "torch", "numpy", "python")


@dataclass(frozen=True)
class RunDir:
    """One run directory, read and checked."""

    path: Path
    # the run's keys (protocol, algorithm, mu, stragglers, seed), its setup, status,
    # stopping round, digest, versions and times: one row of a runs table
    record: dict[str, Any]
    rounds: pd.DataFrame  # rounds.csv: ROUND_COLUMNS, all numeric, sorted by round


def read_run_json(path: Path) -> dict[str, Any]:
    """run.json as a dict; anything but a readable JSON object is a UsageError naming it."""
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found (was the run completed?)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(payload, dict):
        raise UsageError(f"{path}: expected a JSON object, got {type(payload).__name__}")
    return payload


def read_rounds_csv(path: Path) -> pd.DataFrame:
    """One run's rounds.csv, every column numeric, rounds unique and sorted."""
    if not path.is_file():
        raise UsageError(f"{path}: file not found (was the run completed?)")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: empty file, expected a header and one row per round") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: malformed CSV ({str(exc).strip()})") from None
    for column in OPTIONAL_ROUND_COLUMNS:  # files written before the column existed
        if column not in frame.columns:
            frame[column] = math.nan
    missing = [c for c in ROUND_COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}; "
                         f"expected {','.join(ROUND_COLUMNS)}")
    if frame.empty:
        raise UsageError(f"{path}: no rows, expected one row per round")
    frame = frame[list(ROUND_COLUMNS)].copy()
    for column in ROUND_COLUMNS:
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = converted.isna() & frame[column].notna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2  # header is line 1
            raise UsageError(f"{path}: line {line}: column '{column}' is not a number "
                             f"(got {frame[column][bad].iloc[0]!r})")
        frame[column] = converted.astype(float)
    rounds = frame["round"]
    if rounds.isna().any() or (rounds != rounds.round()).any() or (rounds < 0).any():
        raise UsageError(f"{path}: column 'round' must hold whole numbers >= 0")
    if rounds.duplicated().any():
        dup = int(rounds[rounds.duplicated()].iloc[0])
        raise UsageError(f"{path}: round {dup} appears more than once")
    frame["round"] = rounds.astype(int)
    return frame.sort_values("round", ignore_index=True)


def _dig(payload: dict[str, Any], dotted: str, path: Path) -> Any:
    node: Any = payload
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UsageError(f"{path}: missing key '{dotted}'")
        node = node[key]
    return node


def _stopped_at(payload: dict[str, Any], path: Path) -> int | None:
    value = payload.get("stopped_at_target")  # absent in runs made before the option
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{path}: stopped_at_target must be a round >= 1 or null "
                         f"(got {value!r})")
    return value


def run_record(run_dir: Path, payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """The row of a runs table that run.json (read from ``path``) describes."""
    status = _dig(payload, "status", path)
    if status not in STATUSES:
        raise UsageError(f"{path}: status must be one of {', '.join(STATUSES)} (got {status!r})")
    versions = payload.get("versions") or {}
    record: dict[str, Any] = {
        "name": str(_dig(payload, "config.name", path)),
        "protocol": str(_dig(payload, "config.protocol", path)),
        "algorithm": str(_dig(payload, "config.algorithm", path)),
        "mu": float(_dig(payload, "config.mu", path)),
        "stragglers": float(_dig(payload, "config.stragglers", path)),
        "seed": int(_dig(payload, "config.seed", path)),
        "status": status,
        "diverged_round": payload.get("diverged_round"),
        "rounds": int(_dig(payload, "config.federation.rounds", path)),
        "num_clients": int(_dig(payload, "config.federation.num_clients", path)),
        "clients_per_round": int(_dig(payload, "config.federation.clients_per_round", path)),
        "model": str(_dig(payload, "config.training.model", path)),
        "local_epochs": int(_dig(payload, "config.training.local_epochs", path)),
        # FULL_BATCH (0): B = ∞; run.json files written before it hold null
        "batch_size": int(_dig(payload, "config.training.batch_size", path) or FULL_BATCH),
        "lr": float(_dig(payload, "config.training.lr", path)),
        "weight_decay": float(_dig(payload, "config.training.weight_decay", path)),
        # absent in runs made before the option: they ran every round
        "stop_at_target": bool(_dig(payload, "config.federation", path)
                               .get("stop_at_target", False)),
        "stopped_at_target": _stopped_at(payload, path),
        "config_digest": str(_dig(payload, "config_digest", path)),
        "wall_seconds": float(_dig(payload, "wall_seconds", path)),
        "git_commit": payload.get("git_commit"),
        "started_at": payload.get("started_at"),
        "finished_at": payload.get("finished_at"),
        "backend": payload.get("backend"),
        "run_dir": str(run_dir),
    }
    for package in VERSIONED:
        record[f"{package}_version"] = versions.get(package)
    record["variant"] = label(record["algorithm"], record["mu"])
    return record


def read_run_dir(entry: str | Path) -> RunDir:
    """One run directory, with every check of the module docstring."""
    run_dir = Path(entry)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: run directory not found")
    json_path, csv_path = run_dir / RUN_FILE, run_dir / ROUNDS_FILE
    record = run_record(run_dir, read_run_json(json_path), json_path)
    frame = read_rounds_csv(csv_path)
    last = int(frame["round"].iloc[-1])
    stopped, cap = record["stopped_at_target"], record["rounds"]
    if stopped is not None and last != stopped:
        raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                         f"stopped at the target at round {stopped}")
    if record["status"] == "ok" and stopped is None and last != cap:
        raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                         f"finished ok with {cap} rounds (incomplete file?)")
    return RunDir(run_dir, record, frame)


def read_run_dirs(run_dirs: Iterable[str | Path], identity: Sequence[str],
                  what: str) -> list[RunDir]:
    """Every run directory, none missing and no two with the same ``identity`` (record keys):
    two runs of one cell and seed would be counted twice in every mean."""
    runs: list[RunDir] = []
    seen: dict[tuple[Any, ...], Path] = {}
    for entry in run_dirs:
        run = read_run_dir(entry)
        key = tuple(run.record[k] for k in identity)
        if key in seen:
            where = ", ".join(f"{k}={v}" for k, v in zip(identity, key, strict=True))
            raise UsageError(f"{run.path}: same {what} and seed as {seen[key]} ({where})")
        seen[key] = run.path
        runs.append(run)
    if not runs:
        raise UsageError("no run directories given")
    return runs
