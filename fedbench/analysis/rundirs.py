"""The one reader of a run directory: RUN_DIR/rounds.csv and RUN_DIR/run.json, checked.

``fedbench aggregate`` and ``fedbench targets`` read the same files a cell wrote
(``fedbench.apps.results``); reading them in one place means a file that one of them
refuses, the other refuses too, with the same message naming the file.

What is checked, because a table silently built from broken or partial runs would be worse
than no table: the files exist and parse; run.json holds every key the tables need, each of
its type and range (a seed is a whole number >= 0, mu a finite number >= 0, ...), and a
known status; run.json agrees with the cell's path where the path names the cell
(``[<protocol>/][<setting>/]<algorithm>-mu<mu>-sf<stragglers>/seed<seed>``, the workflow's
layout); rounds.csv ends with a complete line, every row has every field, numbers only
(NaN only where a value may be absent: the training losses, and the losses of a diverged
run's last round), rounds 0, 1, 2, ... each once with none missing; and the file ends where
run.json says the run ended (the configured round count for a finished run, the round of
``stopped_at_target`` for a run that stopped at its target accuracy).

Every refusal names the file and what is wrong, and says how to rerun just that cell
(``rerun_hint``); nothing is written from a run set with one bad directory.

Encodings of older files are accepted and normalised here, so that nothing above has to
know them: ``batch_size`` null (B = ∞ before it was written as ``FULL_BATCH``, 0) is 0, a
rounds.csv without an optional column gets NaN, and a run.json without
``stopped_at_target`` did not stop early.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from fedbench.algorithms import label, params_text
from fedbench.apps.results import OPTIONAL_ROUND_COLUMNS, RENAMED_ROUND_COLUMNS, ROUND_COLUMNS
from fedbench.config import FULL_BATCH, PartitionConfig, variant_id
from fedbench.errors import UsageError
from fedbench.protocols import names

RUN_FILE = "run.json"
ROUNDS_FILE = "rounds.csv"
STATUSES = ("ok", "diverged", "failed")
# statuses whose numbers are not a result: never averaged, counted in n_diverged
LEFT_OUT = ("diverged", "failed")
# rounds.csv columns that hold whole numbers >= 0 (counts), and those that may be NaN (absent)
COUNT_COLUMNS = ("round", "sampled", "n_stragglers", "dropped", "failed", "examples")
MAY_BE_NAN = ("train_loss", "global_train_loss")
# the last of the cell path's directories: <algorithm>-mu<mu>-sf<stragglers>/seed<seed>
# <variant>-sf<stragglers>, the variant as fedbench.config.variant_id writes it
_VARIANT_DIR = re.compile(r"(?P<variant>[A-Za-z0-9_]+-mu[^/]+)-sf(?P<stragglers>[^/-]+)")
_SEED_DIR = re.compile(r"seed(?P<seed>[0-9]+)")
_PLAIN_VARIANT = re.compile(r"(?P<algorithm>[A-Za-z0-9_]+)-mu(?P<mu>[0-9]+(?:\.[0-9]+)?"
                            r"(?:e[-+][0-9]+)?)")
_SETTING_DIR = re.compile(r"\w+-E\d+-B(?:\d+|inf)-lr.+")
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
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: cannot read ({shorten(exc)})") from None
    _complete_rows(text, path)
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: empty file, expected a header and one row per round") from None
    except pd.errors.ParserError as exc:
        raise UsageError(f"{path}: malformed CSV ({shorten(exc)})") from None
    frame = frame.rename(columns={old: new for old, new in RENAMED_ROUND_COLUMNS.items()
                                  if new not in frame.columns})  # files written before
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
                             f"(got {shorten(frame[column][bad].iloc[0])})")
        frame[column] = converted.astype(float)
    for column in COUNT_COLUMNS:
        values = frame[column]
        bad = ~values.map(math.isfinite) | (values != values.round()) | (values < 0)
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise UsageError(f"{path}: line {line}: column '{column}' must be a whole number "
                             f">= 0 (got {values[bad].iloc[0]!r})")
        frame[column] = values.astype("int64")  # counts stay integers in every table after
    rounds = frame["round"]
    if rounds.duplicated().any():
        dup = int(rounds[rounds.duplicated()].iloc[0])
        raise UsageError(f"{path}: round {dup} appears more than once")
    frame["round"] = rounds.astype(int)
    frame = frame.sort_values("round", ignore_index=True)
    missing_rounds = sorted(set(range(int(frame["round"].iloc[-1]) + 1)) - set(frame["round"]))
    if missing_rounds:
        shown = ", ".join(map(str, missing_rounds[:5])) + (" ..." if len(missing_rounds) > 5
                                                          else "")
        raise UsageError(f"{path}: round(s) {shown} missing (expected one row for every "
                         f"round 0..{int(frame['round'].iloc[-1])})")
    return frame


def _complete_rows(text: str, path: Path) -> None:
    """Every line complete: the file ends with a newline (a cut file does not) and every row
    has the header's number of fields, none empty (a crash or a stray edit leaves less)."""
    if text and not text.endswith("\n"):
        raise UsageError(f"{path}: the last line is cut off (no newline at the end of the "
                         "file): the file is incomplete")
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        return  # empty: pandas' message
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UsageError(f"{path}: line {number}: {len(row)} field(s), the header has "
                             f"{len(header)}")
        empty = [name for name, value in zip(header, row, strict=True) if not value.strip()]
        if empty:
            raise UsageError(f"{path}: line {number}: no value for column '{empty[0]}'")


def shorten(value: object, limit: int = 80) -> str:
    """``repr`` of a value (or an exception's text) cut to ``limit`` characters: a message
    never echoes a whole file or a huge value."""
    text = str(value).strip() if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dig(payload: dict[str, Any], dotted: str, path: Path) -> Any:
    node: Any = payload
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UsageError(f"{path}: missing key '{dotted}'")
        node = node[key]
    return node


_KINDS = {"text": "a non-empty string", "int": "a whole number", "number": "a finite number",
          "bool": "true or false"}


def _typed(payload: dict[str, Any], dotted: str, path: Path, kind: str, *,
           minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, nullable: bool = False) -> Any:
    """The value at ``dotted``, of ``kind`` (``_KINDS``) and in range; else a UsageError
    naming the key, what it must be and what it is."""
    value = _dig(payload, dotted, path)
    if value is None and nullable:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {"text": isinstance(value, str) and bool(value.strip()),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "number": number and math.isfinite(value),
          "bool": isinstance(value, bool)}[kind]
    bounds = [f"{sign} {bound:g}" for sign, bound in ((">=", minimum), ("<=", maximum),
                                                       (">", above)) if bound is not None]
    if ok and bounds:
        ok = ((minimum is None or value >= minimum) and (maximum is None or value <= maximum)
              and (above is None or value > above))
    what = " ".join([_KINDS[kind], " and ".join(bounds)]).strip()
    what += " or null" if nullable else ""
    if not ok:
        raise UsageError(f"{path}: '{dotted}' must be {what} (got {shorten(value)})")
    return value


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
        raise UsageError(f"{path}: status must be one of {', '.join(STATUSES)} "
                         f"(got {shorten(status)})")
    versions = payload.get("versions") or {}
    if not isinstance(versions, dict):
        raise UsageError(f"{path}: 'versions' must be an object (got {shorten(versions)})")
    record: dict[str, Any] = {
        "name": _typed(payload, "config.name", path, "text"),
        "protocol": _typed(payload, "config.protocol", path, "text"),
        # the label of the split that replaced the protocol's ("" for the protocol's own)
        "partition": _partition(payload, path),
        "algorithm": _typed(payload, "config.algorithm", path, "text"),
        "mu": float(_typed(payload, "config.mu", path, "number", minimum=0)),
        # the algorithm's own hyperparameters as text, "server_lr=0.01" ("" for none; runs
        # made before they existed have none)
        "params": params_text(_params(payload, path)),
        "stragglers": float(_typed(payload, "config.stragglers", path, "number",
                                   minimum=0, maximum=1)),
        "seed": _typed(payload, "config.seed", path, "int", minimum=0),
        "status": status,
        "diverged_round": _typed(payload, "diverged_round", path, "int", minimum=0,
                                 nullable=True) if "diverged_round" in payload else None,
        # status failed: why (no update applied, or most client calls failed)
        "failure_reason": _typed(payload, "failure_reason", path, "text", nullable=True)
        if "failure_reason" in payload else None,
        "rounds": _typed(payload, "config.federation.rounds", path, "int", minimum=1),
        "num_clients": _typed(payload, "config.federation.num_clients", path, "int", minimum=1),
        "clients_per_round": _typed(payload, "config.federation.clients_per_round", path, "int",
                                    minimum=1),
        "model": _typed(payload, "config.training.model", path, "text"),
        "local_epochs": _typed(payload, "config.training.local_epochs", path, "int", minimum=1),
        # FULL_BATCH (0): B = ∞; run.json files written before it hold null
        "batch_size": _typed(payload, "config.training.batch_size", path, "int", minimum=0,
                             nullable=True) or FULL_BATCH,
        "lr": float(_typed(payload, "config.training.lr", path, "number", above=0)),
        "weight_decay": float(_typed(payload, "config.training.weight_decay", path, "number",
                                     minimum=0)),
        # absent in runs made before the option: they ran every round
        "stop_at_target": _typed(payload, "config.federation.stop_at_target", path, "bool")
        if "stop_at_target" in _dig(payload, "config.federation", path) else False,
        "stopped_at_target": _stopped_at(payload, path),
        "config_digest": _typed(payload, "config_digest", path, "text"),
        "wall_seconds": float(_typed(payload, "wall_seconds", path, "number", minimum=0)),
        "git_commit": payload.get("git_commit"),
        "started_at": payload.get("started_at"),
        "finished_at": payload.get("finished_at"),
        "backend": payload.get("backend"),
        "run_dir": str(run_dir),
    }
    for package in VERSIONED:
        record[f"{package}_version"] = versions.get(package)
    params = _params(payload, path)
    record["variant"] = label(record["algorithm"], record["mu"], params)
    record["variant_id"] = variant_id(record["algorithm"], record["mu"], params)
    return record


def _partition(payload: dict[str, Any], path: Path) -> str:
    """The run's partition label ("" when the protocol's own split was used, as in every run
    made before partitions existed), checked against the partition registry."""
    value = _dig(payload, "config", path).get("partition")
    if value is None:
        return ""
    try:
        return PartitionConfig.model_validate(value).label()
    except (ValidationError, ValueError) as exc:
        raise UsageError(f"{path}: config.partition is not a partition ({shorten(value)}: "
                         f"{str(exc).splitlines()[0]})") from None


def _params(payload: dict[str, Any], path: Path) -> dict[str, float]:
    params = _dig(payload, "config", path).get("params") or {}
    if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            and math.isfinite(v) for k, v in params.items()):
        raise UsageError(f"{path}: config.params must map names to finite numbers "
                         f"(got {shorten(params)})")
    return {k: float(v) for k, v in params.items()}


def rerun_hint(run_dir: Path) -> str:
    """How to rerun just the cell of ``run_dir``: delete it and rerun snakemake (which reruns
    only the missing cell), or, when the path is a workflow cell path under
    results/<name>/ (which holds run_config.yaml), the ``fedbench run`` line itself."""
    hint = (f"to rerun just this cell, delete {run_dir} and rerun snakemake with the same "
            "options (only the missing cell runs again)")
    cell = cell_of_path(run_dir)
    parts = run_dir.parts
    depth = 2 + ("protocol" in cell) + ("partition" in cell) + ("setting" in cell)
    # a variant without params (fedprox-mu2.0) gives its options back; one with params
    # (their --set options) is left to snakemake
    plain = _PLAIN_VARIANT.fullmatch(cell.get("variant", ""))
    if plain is not None:
        cell.update(plain.groupdict())
    if plain is not None and "seed" in cell and len(parts) > depth:
        config = Path(*parts[:-depth]) / "run_config.yaml"
        if config.is_file():
            options = "".join(f" --{key} {cell[key]}"
                              for key in ("protocol", "partition", "setting") if key in cell)
            hint += (f", or, once it is deleted, by hand: fedbench run --config {config}{options}"
                     f" --algorithm "
                     f"{cell['algorithm']} --mu {cell['mu']} --stragglers {cell['stragglers']} "
                     f"--seed {cell['seed']} --out {run_dir}")
    return hint


def cell_of_path(run_dir: Path) -> dict[str, str]:
    """What a cell path names: seed, algorithm, mu, stragglers and, above them, the setting,
    the partition and the protocol (when those directories are there); {} for another
    layout."""
    parts = run_dir.parts
    if len(parts) < 2:
        return {}
    seed, variant = _SEED_DIR.fullmatch(parts[-1]), _VARIANT_DIR.fullmatch(parts[-2])
    if seed is None or variant is None:
        return {}
    cell = {"seed": seed["seed"], **variant.groupdict()}
    above = list(parts[-5:-2])
    if above and _SETTING_DIR.fullmatch(above[-1]):
        cell["setting"] = above.pop()
    if above and _is_partition_label(above[-1]):
        cell["partition"] = above.pop()
    if above and above[-1] in names():
        cell["protocol"] = above[-1]
    return cell


def _is_partition_label(text: str) -> bool:
    try:
        PartitionConfig.from_label(text)
    except Exception:  # any refusal: not a partition directory
        return False
    return True


def setting_label(record: dict[str, Any]) -> str:
    """The setting directory name of a run (as ``fedbench.config.Setting.label``)."""
    batch = "inf" if record["batch_size"] == FULL_BATCH else str(record["batch_size"])
    return f"{record['model']}-E{record['local_epochs']}-B{batch}-lr{record['lr']!r}"


def check_path_agrees(run_dir: Path, record: dict[str, Any], json_path: Path) -> None:
    """run.json describes the cell its path names (a file copied into the wrong cell, or a
    cell path renamed, would be counted as another cell)."""
    cell = cell_of_path(run_dir)
    if not cell:
        return
    try:
        named = {"seed": int(cell["seed"]), "variant": cell["variant"],
                 "stragglers": float(cell["stragglers"])}
    except ValueError:
        return  # not a cell path after all
    if "setting" in cell:
        named["setting"] = cell["setting"]
    if "partition" in cell:
        named["partition"] = cell["partition"]
    if "protocol" in cell and cell["protocol"] != record["name"]:
        named["protocol"] = cell["protocol"]
    got = {**{k: record[k] for k in ("seed", "stragglers", "protocol", "partition")},
           "variant": record["variant_id"],
           "setting": setting_label(record)}
    wrong = [f"{k}={got[k]!r} (the path says {v!r})" for k, v in named.items() if got[k] != v]
    if wrong:
        raise UsageError(f"{json_path}: does not describe the cell its path names: "
                         + ", ".join(wrong))


def read_run_dir(entry: str | Path) -> RunDir:
    """One run directory, with every check of the module docstring; a refusal says how to
    rerun just that cell."""
    run_dir = Path(entry)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: run directory not found")
    try:
        return _read_checked(run_dir)
    except UsageError as exc:
        raise UsageError(f"{exc}\n  {rerun_hint(run_dir)}") from None


def _read_checked(run_dir: Path) -> RunDir:
    json_path, csv_path = run_dir / RUN_FILE, run_dir / ROUNDS_FILE
    record = run_record(run_dir, read_run_json(json_path), json_path)
    check_path_agrees(run_dir, record, json_path)
    frame = read_rounds_csv(csv_path)
    if record["status"] != "diverged":
        for column in ("test_loss", "test_accuracy"):
            bad = ~frame[column].map(math.isfinite)
            if bad.any():
                rnd = int(frame["round"][bad].iloc[0])
                raise UsageError(f"{csv_path}: round {rnd}: {column} is not a finite number "
                                 f"but {json_path} says the run did not diverge")
    last = int(frame["round"].iloc[-1])
    stopped, cap = record["stopped_at_target"], record["rounds"]
    if stopped is not None and last != stopped:
        raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                         f"stopped at the target at round {stopped}")
    diverged_at = record["diverged_round"]
    if record["status"] == "diverged" and diverged_at is not None and last != diverged_at:
        raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                         f"diverged at round {diverged_at}")
    if record["status"] in ("ok", "failed") and stopped is None and last != cap:
        raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                         f"finished {record['status']} with {cap} rounds (incomplete file?)")
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
