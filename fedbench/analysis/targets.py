"""Rounds to a target test accuracy: McMahan et al.'s metric, per setting, as tables.

For the FedAvg MNIST baseline (PROTOCOLS.md §3) the published number per
(model, partition, E, B) setting is the first round whose test accuracy is at
or above the target (97 % for the 2NN, 99 % for the CNN; ``Protocol.targets``).
Here, per run, the first round r ≥ 1 with ``test_accuracy >= target`` (None when
never reached); per setting, the median over seeds (runs that never reach it
count as "not reached"; the median is reported only when at least half the
seeds reach the target), set beside the protocol's published table
(``docs.rounds_to_target``, McMahan's Table 2) and its reference replication
(``docs.reference_rounds``, Flower's).

Runs may stop at the target (``federation.stop_at_target``): such a run's
rounds.csv ends at the round that reached it and its run.json says
``"stopped_at_target": r``; it counts as reached at r. Older runs without the
key did not stop early.

Runs are read by ``fedbench.analysis.rundirs`` (the reader of ``fedbench aggregate``,
same checks), but keyed by setting: a grid with a settings axis has several runs per
(protocol, algorithm, mu, stragglers, seed).

Two tidy tables, B a number in both (0 for B = ∞, the full local batch, ``FULL_BATCH``):

targets.csv, one row per run (setting and seed; ``SEED_COLUMNS``): ``rounds`` (the cap R),
``seed``, ``status``, ``reached`` (true/false), ``rounds_to_target`` (a whole round; blank when
not reached) and ``stopped`` (the run ended there, ``federation.stop_at_target``).

targets_summary.csv, one row per (protocol, model, E, B, lr) (``TARGET_COLUMNS`` less the
per-seed text, which only the report's table shows):

- ``rounds``: the configured number of rounds R (the cap when runs stop at the target);
- ``n_seeds``, ``n_reached``, ``n_stopped`` (ended early at the target), ``n_diverged`` (with
  the failed runs: no update applied, or most client calls failed; never counted as reached);
- ``rounds_to_target_median`` (blank: not reached by at least half the seeds) and
  ``rounds_to_target_per_seed`` (seed order, ``-`` = not reached, ``†`` = diverged, ``‡`` =
  failed);
- ``best_acc_mean``: per seed the best test accuracy over the rounds it ran (rounds ≥ 1),
  mean over seeds; for a run that stopped at the target that is its accuracy there;
- ``acc_at_cap_mean``: test accuracy at round R, mean over seeds; blank unless every seed
  ran to round R (none stopped at the target, none diverged), so it is never a mean of
  accuracies taken at different rounds;
- ``published_mcmahan`` (the protocol's published table) and ``published_flower`` (its
  reference replication); blank where the source gives no value.

Drawing and the PDF are ``fedbench.report``'s; this module only computes and writes tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.analysis.rundirs import read_run_dirs
from fedbench.analysis.statistics import mean_if_all
from fedbench.apps.results import write_json
from fedbench.config import FULL_BATCH
from fedbench.io import atomic_write_text
from fedbench.protocols import registry
from fedbench.protocols.base import published_rounds

TARGETS_FILE = "targets.csv"  # one row per seed
SUMMARY_FILE = "targets_summary.csv"  # one row per setting
CURVES_FILE = "targets_rounds.csv"
PROVENANCE_FILE = "provenance.json"
TARGET_COLUMNS = (
    "protocol", "model", "local_epochs", "batch_size", "lr", "target", "rounds", "n_seeds",
    "n_reached", "n_stopped", "n_diverged", "rounds_to_target_median",
    "rounds_to_target_per_seed", "best_acc_mean", "acc_at_cap_mean",
    "published_mcmahan", "published_flower",
)
SETTING_KEYS = ("protocol", "model", "local_epochs", "batch_size", "lr")
SEED_COLUMNS = (*SETTING_KEYS, "target", "rounds", "seed", "status", "reached",
                "rounds_to_target", "stopped")
PER_SEED_TEXT = "rounds_to_target_per_seed"  # the report's column; targets.csv has the rows
# a run's identity: its setting, its cell and its seed
RUN_IDENTITY = (*SETTING_KEYS, "algorithm", "mu", "stragglers", "seed")
DIVERGED_MARK = "†"
FAILED_MARK = "‡"


def rounds_to_target(rounds: Sequence[int], accuracy: Sequence[float],
                     target: float) -> int | None:
    """The first round ≥ 1 whose accuracy is at or above ``target``; None if never."""
    for rnd, acc in sorted(zip(rounds, accuracy, strict=True)):
        if rnd >= 1 and acc == acc and acc >= target:
            return int(rnd)
    return None


def median_rounds(values: Sequence[int | None]) -> float | None:
    """Median over seeds, runs that never reached the target counted as +∞; None when the
    median itself is "not reached" (fewer than half of the seeds reached the target)."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else float(v) for v in values)
    n = len(ordered)
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return None if math.isinf(mid) else mid


def target_of(protocol: str, model: str) -> float:
    """The protocol's target accuracy for ``model``; NaN when it has none (a protocol without
    targets, or one no longer registered)."""
    found = registry().get(protocol)
    return float(found.targets.get(model, math.nan)) if found is not None else math.nan


def published_for(protocol: str, model: str, epochs: int,
                  batch: int) -> tuple[int | None, int | None]:
    """(the published rounds to target, the reference replication's) for one setting."""
    found = registry().get(protocol)
    if found is None:
        return (None, None)
    return (published_rounds(found.docs.rounds_to_target, model, epochs, batch),
            published_rounds(found.docs.reference_rounds, model, epochs, batch))


# --------------------------------------------------------------------------- loading


@dataclass
class TargetRuns:
    """What the run directories hold: per run, per round, and provenance records."""

    runs: pd.DataFrame  # one row per run: setting, seed, status, rounds to target, accuracies
    curves: pd.DataFrame  # tidy: round, test_accuracy, setting, seed
    records: pd.DataFrame  # the per-run records of ``rundirs`` (for provenance)


def read_target_runs(run_dirs: Iterable[str | Path]) -> TargetRuns:
    """Read every run directory (``fedbench.analysis.rundirs``: same files, same checks)."""
    runs, curves, records = [], [], []
    for run in read_run_dirs(run_dirs, RUN_IDENTITY, "setting"):
        record, frame = run.record, run.rounds
        key = {k: record[k] for k in SETTING_KEYS}
        cap, stopped = record["rounds"], record["stopped_at_target"]
        target = target_of(record["protocol"], record["model"])
        acc = frame["test_accuracy"]
        trained = acc[frame["round"] >= 1]
        at_cap = acc[frame["round"] == cap]
        ran_to_cap = record["status"] == "ok" and stopped is None and len(at_cap) == 1
        reached = stopped if stopped is not None else rounds_to_target(
            frame["round"].tolist(), acc.tolist(), target)
        if record["status"] == "failed":  # learned nothing it can be credited with
            reached = None
        runs.append({**key, "seed": record["seed"], "status": record["status"], "rounds": cap,
                     "target": target, "rounds_to_target": reached,
                     "stopped_at_target": stopped, "last_round": int(frame["round"].iloc[-1]),
                     "stop_at_target": record["stop_at_target"],
                     "best_acc": float(trained.max()) if trained.notna().any()
                     and record["status"] != "failed" else math.nan,
                     "acc_at_cap": float(at_cap.iloc[0]) if ran_to_cap else math.nan})
        curves.append(frame[["round", "test_accuracy"]].assign(**key, seed=record["seed"]))
        records.append(record)
    return TargetRuns(pd.DataFrame(runs), pd.concat(curves, ignore_index=True),
                      pd.DataFrame.from_records(records))


def load_target_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per run with its setting and rounds-to-target, tidy per-round accuracy)."""
    data = read_target_runs(run_dirs)
    return data.runs, data.curves


# --------------------------------------------------------------------------- the table


def batch_order(batch: Any) -> float:
    """Sort key of a batch size: B = ∞ (``FULL_BATCH``, 0) after every finite B, as the
    papers' tables (and legends) order them."""
    return math.inf if int(batch) == FULL_BATCH else float(batch)


def _setting_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Settings in table order: by protocol, model, E, B (``batch_order``) and lr."""
    return (row["protocol"], row["model"], row["local_epochs"], batch_order(row["batch_size"]),
            row["lr"])


def targets_table(runs_df: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, model, E, B, lr): rounds to target over seeds, beside the
    published values (columns: TARGET_COLUMNS, see the module docstring)."""
    rows = []
    for key, group in runs_df.groupby(list(SETTING_KEYS), sort=True):
        protocol, model, epochs, batch, lr = key
        group = group.sort_values("seed")
        per_seed = [None if v is None or v != v else int(v) for v in group["rounds_to_target"]]
        marks = [DIVERGED_MARK if s == "diverged" else FAILED_MARK if s == "failed" else ""
                 for s in group["status"]]
        stopped = group.get("stopped_at_target", pd.Series([None] * len(group)))
        paper, reference = published_for(protocol, model, int(epochs), int(batch))
        rows.append({
            "protocol": protocol, "model": model, "local_epochs": int(epochs),
            "batch_size": int(batch), "lr": float(lr),
            "target": float(group["target"].iloc[0]), "rounds": int(group["rounds"].max()),
            "n_seeds": len(group), "n_reached": sum(v is not None for v in per_seed),
            "n_stopped": int(stopped.notna().sum()), "n_diverged": sum(map(bool, marks)),
            "rounds_to_target_median": median_rounds(per_seed),
            "rounds_to_target_per_seed": " ".join(
                ("-" if v is None else str(v)) + mark
                for v, mark in zip(per_seed, marks, strict=True)),
            "best_acc_mean": float(group["best_acc"].mean()),
            "acc_at_cap_mean": mean_if_all(group["acc_at_cap"]),
            "published_mcmahan": paper,
            "published_flower": reference,
        })
    rows.sort(key=_setting_order)
    table = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    for column in ("published_mcmahan", "published_flower"):  # whole rounds, blank if none
        table[column] = table[column].astype("Int64")
    return table


def per_seed_table(runs_df: pd.DataFrame) -> pd.DataFrame:
    """targets.csv: one row per run, in table order (setting, then seed); see SEED_COLUMNS."""
    frame = pd.DataFrame({
        **{k: runs_df[k] for k in SETTING_KEYS},
        "target": runs_df["target"].astype(float), "rounds": runs_df["rounds"].astype(int),
        "seed": runs_df["seed"].astype(int), "status": runs_df["status"],
        "reached": runs_df["rounds_to_target"].notna(),
        "rounds_to_target": runs_df["rounds_to_target"].astype("Int64"),
        "stopped": (runs_df["stopped_at_target"].notna() if "stopped_at_target" in runs_df
                    else False),
    }, columns=list(SEED_COLUMNS))
    frame["local_epochs"] = frame["local_epochs"].astype(int)
    frame["batch_size"] = frame["batch_size"].astype(int)
    order = sorted(range(len(frame)), key=lambda i: (
        _setting_order(frame.iloc[i].to_dict()), int(frame["seed"].iloc[i])))
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- files


def write_target_tables(out_dir: str | Path, data: TargetRuns, table: pd.DataFrame,
                        prov: dict[str, Any]) -> list[Path]:
    """OUT/targets.csv (per seed), OUT/targets_summary.csv (per setting),
    OUT/targets_rounds.csv and OUT/provenance.json (atomically)."""
    out = Path(out_dir)
    paths = [out / TARGETS_FILE, out / SUMMARY_FILE, out / CURVES_FILE, out / PROVENANCE_FILE]
    atomic_write_text(paths[0], per_seed_table(data.runs).to_csv(index=False,
                                                                  lineterminator="\n"))
    atomic_write_text(paths[1], table.drop(columns=[PER_SEED_TEXT]).to_csv(
        index=False, lineterminator="\n"))
    atomic_write_text(paths[2], data.curves.to_csv(index=False, lineterminator="\n"))
    write_json(paths[3], prov)
    return paths
