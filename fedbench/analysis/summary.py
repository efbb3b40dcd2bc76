"""From many cell runs to one tidy table, one summary row per cell, and provenance.

Every function here takes data and returns data (pandas), so the numbers in the
report and the CI regression check are computed by one tested piece of code.

Conventions that the report, the figures and ``fedbench check`` rely on:

- A *cell* is (protocol, algorithm, mu, stragglers); its runs differ only in the
  seed. A *variant* is one line of the published figure: an (algorithm, mu), named by
  ``fedbench.algorithms.label``.
- Round 0 is the initial model. R is the number of configured rounds.
- The **last-10 metric** (the regression metric): for each seed, the mean test
  accuracy over rounds R-9..R (over rounds 1..R when R < 10), then mean and
  sample standard deviation over seeds. Averaging the tail damps the
  round-to-round noise of 10-client rounds, which makes the final round alone
  a poor regression signal.
- Diverged runs are never averaged: they are counted in ``n_diverged`` and left
  out of every mean, std and pair. A cell whose seeds all diverged gets
  status ``diverged`` and NaN statistics instead of an error.
- Failed runs (``failed``: no update was ever applied, or more than half of the client
  calls failed; ``fedbench.apps.server_app.failure``) are treated exactly as diverged
  ones: counted in ``n_diverged`` (the column counts every seed left out, so that
  summary.csv keeps its columns), left out of every statistic; a cell whose seeds were
  all left out and not all diverged gets status ``failed``. provenance.json counts
  ``n_diverged`` and ``n_failed`` apart, with each failed run's reason.
- Standard deviations are sample (ddof=1) standard deviations; with one seed
  they are NaN, not an error.
- Paired comparison: each cell of another algorithm against the cell of the baseline
  algorithm (``fedbench.algorithms.baseline()``, FedAvg) at the same protocol and
  straggler rate, paired by seed (fedbench draws the partition,
  client sampling and stragglers from (seed, round, client), so equal seeds see
  equal draws). Interval: 95 % Student t interval on the per-seed differences,
  mean ± t(0.975, n-1)·s/√n (``fedbench.analysis.statistics``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.algorithms import baseline, sort_key
from fedbench.analysis.rundirs import LEFT_OUT, VERSIONED, read_run_dirs
from fedbench.analysis.statistics import mean_std, paired_t_interval
from fedbench.apps.results import ROUND_COLUMNS, write_json
from fedbench.errors import UsageError
from fedbench.io import atomic_write_text

# partition: the label of the split that replaced the protocol's own ("" for none; the column
# is written only when some run has one, so the tables of grids without it keep their bytes)
# params: the algorithm's own hyperparameters as text ("server_lr=0.01"; "" for none)
CELL_KEYS = ("protocol", "partition", "algorithm", "mu", "params", "stragglers")
RUN_KEYS = (*CELL_KEYS, "seed")
LAST_K = 10

# One meaning per column name in every file: "stragglers" is the cell's straggler *rate* (the
# config's, as in summary.csv); the per-round *count* is "n_stragglers" (a run's rounds.csv).
TIDY_COLUMNS = ("name", *RUN_KEYS, "variant", "status", *ROUND_COLUMNS)
SUMMARY_COLUMNS = (
    "name", *CELL_KEYS, "variant", "status", "n_seeds", "n_ok", "n_diverged", "rounds",
    "final_acc_mean", "final_acc_std", "last10_acc_mean", "last10_acc_std",
    "best_acc_mean", "best_acc_std", "final_loss_mean", "final_loss_std",
    "paired_baseline", "n_pairs", "paired_diff_last10_mean", "paired_diff_last10_std",
    "paired_ci_low", "paired_ci_high",
)
ROUNDS_FILE = "rounds.csv"  # every round of every run (TIDY_COLUMNS)
SUMMARY_FILE = "summary.csv"
PROVENANCE_FILE = "provenance.json"


# --------------------------------------------------------------------------- loading


def load_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every run directory into (rounds_df, runs_df).

    rounds_df is tidy: one row per round of every run, with the run's keys
    (protocol, algorithm, mu, stragglers, seed), variant and status.
    runs_df has one row per run: keys, status, configured rounds, the setup,
    digest, versions and wall time, which is what provenance needs.

    Unusable input raises UsageError naming the file (``fedbench.analysis.rundirs``); so
    does a run that stopped at its target accuracy: the per-cell statistics are taken at
    the configured last round, which such a run never reached.
    """
    records: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    for run in read_run_dirs(run_dirs, RUN_KEYS, "cell"):
        record = run.record
        if record["stopped_at_target"] is not None:
            raise UsageError(
                f"{run.path}: the run stopped at its target accuracy at round "
                f"{record['stopped_at_target']} of {record['rounds']} "
                "(federation.stop_at_target); a summary needs every round: read it with "
                "`fedbench targets`")
        frame = run.rounds
        frame = frame.assign(**{c: record[c] for c in ("name", *RUN_KEYS, "variant", "status")})
        records.append(record)
        frames.append(frame)
    runs = pd.DataFrame.from_records(records)
    runs = runs.sort_values(list(RUN_KEYS), ignore_index=True)
    rounds = pd.concat(frames, ignore_index=True)[list(TIDY_COLUMNS)]
    rounds = rounds.sort_values([*RUN_KEYS, "round"], ignore_index=True)
    for (cell, group) in runs.groupby(list(CELL_KEYS), sort=True):
        if group["rounds"].nunique() > 1:
            raise UsageError(
                f"runs of cell {dict(zip(CELL_KEYS, cell, strict=True))} were configured with "
                f"different round counts ({sorted(group['rounds'].unique())}): "
                + ", ".join(group["run_dir"]))
    return rounds, runs


# --------------------------------------------------------------------------- metrics


def per_run_metrics(rounds_df: pd.DataFrame, runs_df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final, last-10 and best accuracy and final loss (NaN if diverged).

    The last-10 window is rounds max(1, R-9)..R: round 0 is the untrained model
    and must not enter the tail mean of a short run.
    """
    rows = []
    by_run = rounds_df.groupby(list(RUN_KEYS), sort=False)
    for run in runs_df.itertuples(index=False):
        key = tuple(getattr(run, k) for k in RUN_KEYS)
        row: dict[str, Any] = {k: getattr(run, k) for k in RUN_KEYS}
        row.update(variant=run.variant, status=run.status, rounds=run.rounds)
        metrics = dict(final_acc=math.nan, final_loss=math.nan, last10_acc=math.nan,
                       best_acc=math.nan)
        if run.status == "ok":
            r = by_run.get_group(key)
            big_r = int(run.rounds)
            final = r[r["round"] == big_r]
            window = r[(r["round"] > big_r - LAST_K) & (r["round"] >= 1) & (r["round"] <= big_r)]
            trained = r[(r["round"] >= 1) & (r["round"] <= big_r)]
            metrics.update(
                final_acc=float(final["test_accuracy"].iloc[0]),
                final_loss=float(final["test_loss"].iloc[0]),
                last10_acc=float(window["test_accuracy"].mean()),
                best_acc=float(trained["test_accuracy"].max()) if len(trained) else math.nan,
            )
        row.update(metrics)
        rows.append(row)
    return pd.DataFrame(rows)


def runs_of_tables(rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> pd.DataFrame:
    """The runs of what ``aggregate`` wrote (rounds.csv, summary.csv), as ``per_run_metrics``
    reads them: one row per run with its keys, variant, status and configured rounds."""
    runs = rounds_df.drop_duplicates(list(RUN_KEYS))[[*RUN_KEYS, "variant", "status"]]
    rounds = summary_df[[*CELL_KEYS, "rounds"]]
    return runs.merge(rounds, on=list(CELL_KEYS), how="left").reset_index(drop=True)


def summarize(rounds_df: pd.DataFrame, runs_df: pd.DataFrame,
              name: str | None = None) -> pd.DataFrame:
    """One row per cell (protocol, algorithm, mu, stragglers): see SUMMARY_COLUMNS.

    ``status`` is ``ok`` (no seed diverged or failed), ``partial`` (some did; they are left
    out of the statistics), ``diverged`` (all diverged; statistics are NaN) or ``failed``
    (all were left out, not all diverged).
    """
    metrics = per_run_metrics(rounds_df, runs_df)
    if name is None:
        name = "+".join(sorted(runs_df["name"].unique()))
    rows: list[dict[str, Any]] = []
    for cell, group in metrics.groupby(list(CELL_KEYS), sort=True):
        ok = group[group["status"] == "ok"]
        n_div = int(group["status"].isin(LEFT_OUT).sum())  # diverged or failed
        all_diverged = bool((group["status"] == "diverged").all())
        status = ("ok" if n_div == 0 else "partial" if not ok.empty
                  else "diverged" if all_diverged else "failed")
        row: dict[str, Any] = {"name": name, **dict(zip(CELL_KEYS, cell, strict=True))}
        row.update(variant=group["variant"].iloc[0], status=status, n_seeds=len(group),
                   n_ok=len(ok), n_diverged=n_div, rounds=int(group["rounds"].iloc[0]))
        for metric in ("final_acc", "last10_acc", "best_acc", "final_loss"):
            row[f"{metric}_mean"], row[f"{metric}_std"] = mean_std(ok[metric])
        row.update(_paired(cell, group, metrics))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    order = sorted(range(len(summary)), key=lambda i: (
        summary.at[i, "protocol"], summary.at[i, "partition"], summary.at[i, "stragglers"],
        sort_key(summary.at[i, "algorithm"], summary.at[i, "mu"]), summary.at[i, "params"]))
    return summary.iloc[order].reset_index(drop=True)


def _paired(cell: tuple[Any, ...], group: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, Any]:
    """Paired last-10 difference of this cell minus the baseline algorithm (FedAvg) at the same
    protocol and stragglers."""
    protocol, partition, algorithm, _mu, _params, stragglers = cell
    empty = {"paired_baseline": "", "n_pairs": 0, "paired_diff_last10_mean": math.nan,
             "paired_diff_last10_std": math.nan, "paired_ci_low": math.nan,
             "paired_ci_high": math.nan}
    reference = baseline()
    if algorithm == reference.name:
        return empty
    base = metrics[(metrics["protocol"] == protocol) & (metrics["partition"] == partition)
                   & (metrics["algorithm"] == reference.name)
                   & (metrics["params"] == "") & (metrics["stragglers"] == stragglers)]
    if base.empty:
        return empty
    base_label = reference.label(0.0)
    if base["rounds"].iloc[0] != group["rounds"].iloc[0]:
        return {**empty, "paired_baseline": base_label}  # different R: not comparable
    ours = group[group["status"] == "ok"].set_index("seed")["last10_acc"]
    theirs = base[base["status"] == "ok"].set_index("seed")["last10_acc"]
    seeds = sorted(set(ours.index) & set(theirs.index))
    diffs = [float(ours[s] - theirs[s]) for s in seeds]
    mean, std, low, high = paired_t_interval(diffs)
    return {"paired_baseline": base_label, "n_pairs": len(diffs),
            "paired_diff_last10_mean": mean, "paired_diff_last10_std": std,
            "paired_ci_low": low, "paired_ci_high": high}


def _signed(value: float, digits: int = 4) -> str:
    return "—" if not math.isfinite(value) else f"{value:+.{digits}f}"


def paired_table(summary_df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The paired comparison as a readable table (strings), one row per cell of an algorithm
    other than the baseline (FedAvg).

    "Significant" means the 95 % interval excludes 0; with fewer than two pairs
    there is no interval and the answer is "—".
    """
    reference = baseline().name
    rows = []
    for row in summary_df.itertuples(index=False):
        if row.algorithm == reference:
            continue
        has_ci = math.isfinite(row.paired_ci_low)
        rows.append({
            "Protocol": row.protocol,
            "Stragglers": f"{row.stragglers:.0%}",
            "Variant": row.variant,
            "vs": row.paired_baseline or "—",
            "Pairs": int(row.n_pairs),
            "Δ last-10 acc.": _signed(row.paired_diff_last10_mean, digits),
            "95% CI": (f"[{_signed(row.paired_ci_low, digits)}, "
                       f"{_signed(row.paired_ci_high, digits)}]" if has_ci else "—"),
            "Significant": ("—" if not has_ci else
                            "yes" if row.paired_ci_low > 0 or row.paired_ci_high < 0 else "no"),
        })
    columns = ["Protocol", "Stragglers", "Variant", "vs", "Pairs", "Δ last-10 acc.", "95% CI",
               "Significant"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- provenance


def _unique(values: Iterable[Any]) -> list[Any]:
    return sorted({v for v in values if v is not None and v == v})


def provenance(runs_df: pd.DataFrame, name: str) -> dict[str, Any]:
    """What produced these numbers: versions, commits, digests, setup, compute time.

    Values that should be identical across runs are lists of the distinct
    values seen, so a mixed grid (two commits, two torch builds) shows up
    instead of being hidden behind the first run's value.
    """
    digests = _unique(runs_df["config_digest"])
    combined = hashlib.sha256("\n".join(digests).encode()).hexdigest()[:12]
    variants = sorted({(r.algorithm, r.mu, r.params, r.variant) for r in runs_df.itertuples()},
                      key=lambda v: (sort_key(v[0], v[1]), v[2]))
    setup_keys = ("protocol", "num_clients", "clients_per_round", "rounds", "model",
                  "local_epochs", "batch_size", "lr", "weight_decay")
    return {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_runs": len(runs_df),
        "n_diverged": int((runs_df["status"] == "diverged").sum()),
        "n_failed": int((runs_df["status"] == "failed").sum()),
        "total_compute_seconds": round(float(runs_df["wall_seconds"].sum()), 3),
        "versions": {p: _unique(runs_df[f"{p}_version"]) for p in VERSIONED},
        "git_commits": _unique(runs_df["git_commit"]),
        "config_digests": digests,
        "combined_digest": combined,
        "backends": _unique(runs_df["backend"]),
        "runs_started_at": min(_unique(runs_df["started_at"]), default=None),
        "runs_finished_at": max(_unique(runs_df["finished_at"]), default=None),
        "setup": {k: _unique(runs_df[k]) for k in setup_keys},
        "variants": [v[3] for v in variants],
        "stragglers": _unique(runs_df["stragglers"]),
        "seeds": _unique(runs_df["seed"]),
        "runs": [
            {"run_dir": r.run_dir, "variant": r.variant, "stragglers": r.stragglers,
             "seed": r.seed, "status": r.status, "config_digest": r.config_digest,
             "wall_seconds": r.wall_seconds,
             **({"failure_reason": r.failure_reason} if r.status == "failed" else {})}
            for r in runs_df.itertuples()
        ],
    }


# --------------------------------------------------------------------------- files


def _csv(frame: pd.DataFrame) -> str:
    """CSV text; without the partition column when no run has a partition."""
    if "partition" in frame and not frame["partition"].astype(bool).any():
        frame = frame.drop(columns="partition")
    return frame.to_csv(index=False, lineterminator="\n")


def aggregate(run_dirs: Iterable[str | Path], out_dir: str | Path,
              name: str) -> dict[str, Path]:
    """Load runs, write OUT/rounds.csv, OUT/summary.csv, OUT/provenance.json (atomically)."""
    rounds_df, runs_df = load_runs(run_dirs)
    summary_df = summarize(rounds_df, runs_df, name=name)
    out = Path(out_dir)
    tidy = rounds_df.assign(name=name)[list(TIDY_COLUMNS)]
    paths = {"rounds": out / ROUNDS_FILE, "summary": out / SUMMARY_FILE,
             "provenance": out / PROVENANCE_FILE}
    atomic_write_text(paths["rounds"], _csv(tidy))
    atomic_write_text(paths["summary"], _csv(summary_df))
    write_json(paths["provenance"], provenance(runs_df, name))
    return paths


def _read_csv(path: Path, required: Sequence[str],
              text_columns: Sequence[str] = ()) -> pd.DataFrame:
    if not path.is_file():
        raise UsageError(f"{path}: file not found (run `fedbench aggregate` first)")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns})
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: malformed CSV ({str(exc).strip()})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def load_reports(reports_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Read back what ``aggregate`` wrote: (rounds_df, summary_df, provenance)."""
    root = Path(reports_dir)
    text = ("name", "protocol", "algorithm", "variant", "status", "params", "partition",
            "paired_baseline")
    # tables written before algorithms had params have no such column: none had params;
    # tables of grids without partitions have no partition column
    optional = ("params", "partition")
    tidy = [c for c in TIDY_COLUMNS if c not in optional]
    rounds_df = _read_csv(root / ROUNDS_FILE, tidy, text[:7])
    summary_df = _read_csv(root / SUMMARY_FILE, [c for c in SUMMARY_COLUMNS if c not in optional],
                           text)
    for frame in (rounds_df, summary_df):
        for column in optional:
            frame[column] = frame[column].fillna("") if column in frame else ""
    summary_df["paired_baseline"] = summary_df["paired_baseline"].fillna("")
    prov_path = root / PROVENANCE_FILE
    if not prov_path.is_file():
        raise UsageError(f"{prov_path}: file not found (run `fedbench aggregate` first)")
    try:
        prov = json.loads(prov_path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{prov_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(prov, dict):
        raise UsageError(f"{prov_path}: expected a JSON object")
    return rounds_df, summary_df, prov
