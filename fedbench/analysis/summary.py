"""From many cell runs to one tidy table, one summary row per cell, and provenance.

Every function here takes data and returns data (pandas), so the numbers in the
report and the CI regression check are computed by one tested piece of code.

Conventions that the report, the figures and ``fedbench check`` rely on:

- A *cell* is (protocol, algorithm, mu, stragglers); its runs differ only in the
  seed. A *variant* is one line of the published figure (``variant_label``).
- Round 0 is the initial model. R is the number of configured rounds.
- The **last-10 metric** (the regression metric): for each seed, the mean test
  accuracy over rounds R-9..R (over rounds 1..R when R < 10), then mean and
  sample standard deviation over seeds. Averaging the tail damps the
  round-to-round noise of 10-client rounds, which makes the final round alone
  a poor regression signal.
- Diverged runs are never averaged: they are counted in ``n_diverged`` and left
  out of every mean, std and pair. A cell whose seeds all diverged gets
  status ``diverged`` and NaN statistics instead of an error.
- Standard deviations are sample (ddof=1) standard deviations; with one seed
  they are NaN, not an error.
- Paired comparison: each non-FedAvg cell against the FedAvg cell at the same
  protocol and straggler rate, paired by seed (fedbench draws the partition,
  client sampling and stragglers from (seed, round, client), so equal seeds see
  equal draws). Interval: 95 % Student t interval on the per-seed differences,
  mean ± t(0.975, n-1)·s/√n (see ``t_quantile_975``).
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

from fedbench.errors import UsageError
from fedbench.results import (
    OPTIONAL_ROUND_COLUMNS,
    ROUND_COLUMNS,
    atomic_write_text,
    write_json,
)

CELL_KEYS = ("protocol", "algorithm", "mu", "stragglers")
RUN_KEYS = (*CELL_KEYS, "seed")
LAST_K = 10
BASELINE_ALGORITHM = "fedavg"
STATUSES = ("ok", "diverged")

# In the tidy table "stragglers" is the cell's straggler *rate* (as in summary.csv);
# the per-round *count* of stragglers, "stragglers" in a run's rounds.csv, is renamed.
ROUND_RENAMES = {"stragglers": "n_stragglers"}
TIDY_ROUND_COLUMNS = tuple(ROUND_RENAMES.get(c, c) for c in ROUND_COLUMNS)
TIDY_COLUMNS = ("name", *RUN_KEYS, "variant", "status", *TIDY_ROUND_COLUMNS)
SUMMARY_COLUMNS = (
    "name", *CELL_KEYS, "variant", "status", "n_seeds", "n_ok", "n_diverged", "rounds",
    "final_acc_mean", "final_acc_std", "last10_acc_mean", "last10_acc_std",
    "best_acc_mean", "best_acc_std", "final_loss_mean", "final_loss_std",
    "paired_baseline", "n_pairs", "paired_diff_last10_mean", "paired_diff_last10_std",
    "paired_ci_low", "paired_ci_high",
)
ROUNDS_FILE = "rounds.csv"
SUMMARY_FILE = "summary.csv"
PROVENANCE_FILE = "provenance.json"

# Two-sided 95 % Student t quantiles t(0.975, df) for df = 1..30, computed to
# double precision from the regularized incomplete beta function (they match
# every printed t table to its last digit).
_T975 = (
    12.706204736174694, 4.302652729749462, 3.1824463052837086, 2.7764451051977934,
    2.5705818356363146, 2.4469118511449692, 2.364624251592785, 2.3060041352041662,
    2.262157162798205, 2.2281388519862744, 2.2009851600916392, 2.1788128296672284,
    2.160368656462792, 2.1447866879178035, 2.131449545559775, 2.119905299221254,
    2.1098155778333165, 2.1009220402410382, 2.093024054408309, 2.0859634472658644,
    2.07961384472768, 2.073873067904026, 2.068657610419048, 2.0638985616280254,
    2.0595385527532972, 2.0555294386428726, 2.051830516480285, 2.0484071417952445,
    2.045229642132704, 2.0422724563012378,
)
_Z975 = 1.959963984540054  # standard normal 0.975 quantile


# --------------------------------------------------------------------------- helpers


def variant_label(algorithm: str, mu: float) -> str:
    """The legend name of a variant: "FedAvg", "FedProx μ=0", "FedProx μ=2".

    FedProx with μ=0 is kept distinct from FedAvg on purpose: it keeps the
    stragglers' partial work, which is exactly what the published figure shows.
    """
    names = {"fedavg": "FedAvg", "fedprox": "FedProx"}
    base = names.get(algorithm, algorithm)
    if algorithm == "fedavg" and mu == 0:
        return base
    return f"{base} μ={float(mu):g}"


def variant_sort_key(algorithm: str, mu: float) -> tuple[int, str, float]:
    """FedAvg first, then by algorithm name and μ: the order of legends and tables."""
    return (0 if algorithm == BASELINE_ALGORITHM else 1, algorithm, float(mu))


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % Student t quantile t(0.975, df).

    scipy is not a dependency, so: exact values from a table for df ≤ 30, and
    above that the Cornish–Fisher expansion of t in powers of 1/df
    (Abramowitz & Stegun 26.7.5, four terms), whose error is below 1e-7 there.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1 (got {df})")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def paired_t_interval(diffs: Sequence[float]) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of paired differences, 95 % t interval.

    With no pairs everything is NaN; with one pair the mean is known but the
    spread is not, so std and the interval are NaN.
    """
    values = [float(d) for d in diffs]
    n = len(values)
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    mean = sum(values) / n
    if n == 1:
        return (mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    return (mean, std, mean - half, mean + half)


def _dig(payload: dict[str, Any], dotted: str, path: Path) -> Any:
    node: Any = payload
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UsageError(f"{path}: missing key '{dotted}'")
        node = node[key]
    return node


# --------------------------------------------------------------------------- loading


def _read_run_json(path: Path) -> dict[str, Any]:
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


def _read_rounds_csv(path: Path) -> pd.DataFrame:
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


def _run_record(run_dir: Path, payload: dict[str, Any], path: Path) -> dict[str, Any]:
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
        # 0: the full local batch (B = ∞, written as null in run.json)
        "batch_size": int(_dig(payload, "config.training.batch_size", path) or 0),
        "lr": float(_dig(payload, "config.training.lr", path)),
        "weight_decay": float(_dig(payload, "config.training.weight_decay", path)),
        "config_digest": str(_dig(payload, "config_digest", path)),
        "wall_seconds": float(_dig(payload, "wall_seconds", path)),
        "git_commit": payload.get("git_commit"),
        "started_at": payload.get("started_at"),
        "finished_at": payload.get("finished_at"),
        "backend": payload.get("backend"),
        "run_dir": str(run_dir),
    }
    for package in ("fedbench", "flwr", "torch", "numpy", "python"):
        record[f"{package}_version"] = versions.get(package)
    record["variant"] = variant_label(record["algorithm"], record["mu"])
    return record


def load_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every run directory into (rounds_df, runs_df).

    rounds_df is tidy: one row per round of every run, with the run's keys
    (protocol, algorithm, mu, stragglers, seed), variant and status.
    runs_df has one row per run: keys, status, configured rounds, the setup,
    digest, versions and wall time, which is what provenance needs.

    Unusable input raises UsageError naming the file: a benchmark summary
    silently built from a subset of runs would be worse than no summary.
    """
    records: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    seen: dict[tuple[Any, ...], str] = {}
    for entry in run_dirs:
        run_dir = Path(entry)
        if not run_dir.is_dir():
            raise UsageError(f"{run_dir}: run directory not found")
        json_path = run_dir / "run.json"
        csv_path = run_dir / "rounds.csv"
        record = _run_record(run_dir, _read_run_json(json_path), json_path)
        frame = _read_rounds_csv(csv_path)
        key = tuple(record[k] for k in RUN_KEYS)
        if key in seen:
            where = ", ".join(f"{k}={v}" for k, v in zip(RUN_KEYS, key, strict=True))
            raise UsageError(f"{run_dir}: same cell and seed as {seen[key]} ({where})")
        seen[key] = str(run_dir)
        last = int(frame["round"].iloc[-1])
        if record["status"] == "ok" and last != record["rounds"]:
            raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                             f"finished ok with {record['rounds']} rounds (incomplete file?)")
        frame = frame.rename(columns=ROUND_RENAMES)
        frame = frame.assign(**{c: record[c] for c in ("name", *RUN_KEYS, "variant", "status")})
        records.append(record)
        frames.append(frame)
    if not records:
        raise UsageError("no run directories given")
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


def _mean_std(values: pd.Series) -> tuple[float, float]:
    clean = values.dropna()
    if clean.empty:
        return (math.nan, math.nan)
    std = float(clean.std(ddof=1)) if len(clean) > 1 else math.nan
    return (float(clean.mean()), std)


def summarize(rounds_df: pd.DataFrame, runs_df: pd.DataFrame,
              name: str | None = None) -> pd.DataFrame:
    """One row per cell (protocol, algorithm, mu, stragglers): see SUMMARY_COLUMNS.

    ``status`` is ``ok`` (no seed diverged), ``partial`` (some did; they are left
    out of the statistics) or ``diverged`` (all did; statistics are NaN).
    """
    metrics = per_run_metrics(rounds_df, runs_df)
    if name is None:
        name = "+".join(sorted(runs_df["name"].unique()))
    rows: list[dict[str, Any]] = []
    for cell, group in metrics.groupby(list(CELL_KEYS), sort=True):
        ok = group[group["status"] == "ok"]
        n_div = int((group["status"] == "diverged").sum())
        status = "ok" if n_div == 0 else ("diverged" if ok.empty else "partial")
        row: dict[str, Any] = {"name": name, **dict(zip(CELL_KEYS, cell, strict=True))}
        row.update(variant=group["variant"].iloc[0], status=status, n_seeds=len(group),
                   n_ok=len(ok), n_diverged=n_div, rounds=int(group["rounds"].iloc[0]))
        for metric in ("final_acc", "last10_acc", "best_acc", "final_loss"):
            row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(ok[metric])
        row.update(_paired(cell, group, metrics))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    order = sorted(range(len(summary)), key=lambda i: (
        summary.at[i, "protocol"], summary.at[i, "stragglers"],
        variant_sort_key(summary.at[i, "algorithm"], summary.at[i, "mu"])))
    return summary.iloc[order].reset_index(drop=True)


def _paired(cell: tuple[Any, ...], group: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, Any]:
    """Paired last-10 difference of this cell minus FedAvg at the same protocol and stragglers."""
    protocol, algorithm, _mu, stragglers = cell
    empty = {"paired_baseline": "", "n_pairs": 0, "paired_diff_last10_mean": math.nan,
             "paired_diff_last10_std": math.nan, "paired_ci_low": math.nan,
             "paired_ci_high": math.nan}
    if algorithm == BASELINE_ALGORITHM:
        return empty
    base = metrics[(metrics["protocol"] == protocol) & (metrics["algorithm"] == BASELINE_ALGORITHM)
                   & (metrics["stragglers"] == stragglers)]
    if base.empty:
        return empty
    baseline = variant_label(BASELINE_ALGORITHM, 0.0)
    if base["rounds"].iloc[0] != group["rounds"].iloc[0]:
        return {**empty, "paired_baseline": baseline}  # different R: not comparable
    ours = group[group["status"] == "ok"].set_index("seed")["last10_acc"]
    theirs = base[base["status"] == "ok"].set_index("seed")["last10_acc"]
    seeds = sorted(set(ours.index) & set(theirs.index))
    diffs = [float(ours[s] - theirs[s]) for s in seeds]
    mean, std, low, high = paired_t_interval(diffs)
    return {"paired_baseline": baseline, "n_pairs": len(diffs),
            "paired_diff_last10_mean": mean, "paired_diff_last10_std": std,
            "paired_ci_low": low, "paired_ci_high": high}


def _signed(value: float, digits: int = 4) -> str:
    return "—" if not math.isfinite(value) else f"{value:+.{digits}f}"


def paired_table(summary_df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The paired comparison as a readable table (strings), one row per non-FedAvg cell.

    "Significant" means the 95 % interval excludes 0; with fewer than two pairs
    there is no interval and the answer is "—".
    """
    rows = []
    for row in summary_df.itertuples(index=False):
        if row.algorithm == BASELINE_ALGORITHM:
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
    variants = sorted({(r.algorithm, r.mu) for r in runs_df.itertuples()},
                      key=lambda am: variant_sort_key(*am))
    setup_keys = ("protocol", "num_clients", "clients_per_round", "rounds", "model",
                  "local_epochs", "batch_size", "lr", "weight_decay")
    return {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_runs": len(runs_df),
        "n_diverged": int((runs_df["status"] == "diverged").sum()),
        "total_compute_seconds": round(float(runs_df["wall_seconds"].sum()), 3),
        "versions": {p: _unique(runs_df[f"{p}_version"])
                     for p in ("fedbench", "flwr", "torch", "numpy", "python")},
        "git_commits": _unique(runs_df["git_commit"]),
        "config_digests": digests,
        "combined_digest": combined,
        "backends": _unique(runs_df["backend"]),
        "runs_started_at": min(_unique(runs_df["started_at"]), default=None),
        "runs_finished_at": max(_unique(runs_df["finished_at"]), default=None),
        "setup": {k: _unique(runs_df[k]) for k in setup_keys},
        "variants": [variant_label(a, m) for a, m in variants],
        "stragglers": _unique(runs_df["stragglers"]),
        "seeds": _unique(runs_df["seed"]),
        "runs": [
            {"run_dir": r.run_dir, "variant": r.variant, "stragglers": r.stragglers,
             "seed": r.seed, "status": r.status, "config_digest": r.config_digest,
             "wall_seconds": r.wall_seconds}
            for r in runs_df.itertuples()
        ],
    }


# --------------------------------------------------------------------------- files


def _csv(frame: pd.DataFrame) -> str:
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
    text = ("name", "protocol", "algorithm", "variant", "status", "paired_baseline")
    rounds_df = _read_csv(root / ROUNDS_FILE, TIDY_COLUMNS, text[:5])
    summary_df = _read_csv(root / SUMMARY_FILE, SUMMARY_COLUMNS, text)
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
