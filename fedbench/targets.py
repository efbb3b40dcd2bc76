"""McMahan et al.'s metric: communication rounds to reach a target test accuracy.

For the FedAvg MNIST baseline (PROTOCOLS.md §3) the published number per
(model, partition, E, B) setting is the first round whose test accuracy is at
or above the target (97 % for the 2NN, 99 % for the CNN). Here, per run, the
first round r ≥ 1 with ``test_accuracy >= target`` (None when never reached);
per setting, the median over seeds (runs that never reach it count as
"not reached"; the median is reported only when at least half the seeds reach
the target), set beside McMahan's Table 2 and Flower's replication.

Runs are read from their run directories (rounds.csv, run.json) like
``fedbench.aggregate`` does, but keyed by setting: a grid with a settings axis
has several runs per (protocol, algorithm, mu, stragglers, seed).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.errors import UsageError
from fedbench.published import (
    FLOWER_FEDAVG_ROUNDS,
    MCMAHAN_SOURCE,
    MCMAHAN_TABLE2,
    MCMAHAN_TARGETS,
    published_rounds,
)
from fedbench.results import atomic_write_text

TARGETS_FILE = "targets.csv"
CURVES_FILE = "targets_rounds.csv"
TARGET_COLUMNS = (
    "protocol", "model", "local_epochs", "batch_size", "lr", "target", "rounds", "n_seeds",
    "n_reached", "rounds_to_target_median", "rounds_to_target_per_seed", "final_acc_mean",
    "published_mcmahan", "published_flower",
)


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


def _batch(value: Any) -> int | None:
    return None if value in (None, 0) else int(value)


def batch_text(batch: int | None) -> str:
    return "∞" if batch is None else str(batch)


def load_target_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per run with its setting and rounds-to-target, tidy per-round accuracy)."""
    runs, curves = [], []
    for entry in run_dirs:
        run_dir = Path(entry)
        try:
            payload = json.loads((run_dir / "run.json").read_text())
            frame = pd.read_csv(run_dir / "rounds.csv")
        except (OSError, ValueError) as exc:
            raise UsageError(f"{run_dir}: cannot read run.json/rounds.csv ({exc})") from None
        cfg = payload["config"]
        training = cfg["training"]
        model = training["model"]
        target = MCMAHAN_TARGETS.get(model, math.nan)
        reached = rounds_to_target(frame["round"].tolist(), frame["test_accuracy"].tolist(),
                                   target)
        key = {"protocol": cfg["protocol"], "model": model,
               "local_epochs": int(training["local_epochs"]),
               "batch_size": _batch(training["batch_size"]), "lr": float(training["lr"])}
        runs.append({**key, "seed": int(cfg["seed"]), "status": payload["status"],
                     "rounds": int(cfg["federation"]["rounds"]), "target": target,
                     "rounds_to_target": reached,
                     "final_acc": float(frame["test_accuracy"].iloc[-1])})
        curves.append(frame[["round", "test_accuracy"]].assign(**key, seed=int(cfg["seed"])))
    if not runs:
        raise UsageError("no run directories given")
    return pd.DataFrame(runs), pd.concat(curves, ignore_index=True)


def targets_table(runs_df: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, model, E, B, lr): rounds to target over seeds, beside the
    published values."""
    rows = []
    keys = ["protocol", "model", "local_epochs", "batch_size", "lr"]
    frame = runs_df.assign(batch_size=runs_df["batch_size"].astype(object))
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        protocol, model, epochs, batch, lr = key
        batch = None if batch is None or batch != batch else int(batch)
        per_seed = [None if v is None or v != v else int(v)
                    for v in group.sort_values("seed")["rounds_to_target"]]
        rows.append({
            "protocol": protocol, "model": model, "local_epochs": int(epochs),
            "batch_size": batch_text(batch), "lr": float(lr),
            "target": float(group["target"].iloc[0]), "rounds": int(group["rounds"].max()),
            "n_seeds": len(group), "n_reached": sum(v is not None for v in per_seed),
            "rounds_to_target_median": median_rounds(per_seed),
            "rounds_to_target_per_seed": " ".join("-" if v is None else str(v)
                                                  for v in per_seed),
            "final_acc_mean": float(group["final_acc"].mean()),
            "published_mcmahan": published_rounds(model, protocol, int(epochs), batch),
            "published_flower": published_rounds(model, protocol, int(epochs), batch,
                                                 FLOWER_FEDAVG_ROUNDS),
        })
    table = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    for column in ("published_mcmahan", "published_flower"):  # whole rounds, blank if none
        table[column] = table[column].astype("Int64")
    return table


def _curves_figure(curves: pd.DataFrame):
    from matplotlib.figure import Figure

    from fedbench.plots import style

    n = curves[["protocol", "model"]].drop_duplicates().shape[0]
    with style():
        fig = Figure(figsize=(4.2 * max(1, n), 3.8), layout="constrained")
        _draw_into(fig, curves)
    return fig


def write_targets(run_dirs: Iterable[str | Path], out_dir: str | Path, name: str) -> list[Path]:
    """targets.csv, targets_rounds.csv, figures/target_curves.{png,pdf} and targets.pdf."""
    from fedbench.plots import save_atomic

    runs_df, curves = load_target_runs(run_dirs)
    table = targets_table(runs_df)
    out = Path(out_dir)
    paths = [out / TARGETS_FILE, out / CURVES_FILE]
    atomic_write_text(paths[0], table.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(paths[1], curves.to_csv(index=False, lineterminator="\n"))
    fig = _curves_figure(curves)
    for fmt in ("png", "pdf"):
        path = out / "figures" / f"target_curves.{fmt}"
        save_atomic(fig, path)
        paths.append(path)
    paths.append(write_targets_pdf(out / "targets.pdf", table, curves, name))
    return paths


def table_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["Partition", "Model", "E", "B", "lr", "Seeds reached", "Rounds (median)",
              "Per seed", "McMahan T2", "Flower"]

    def num(v: Any) -> str:
        return "—" if pd.isna(v) else f"{int(v)}"

    rows = []
    for r in table.itertuples(index=False):
        median = r.rounds_to_target_median
        rows.append([
            r.protocol.removeprefix("mcmahan-"), r.model, str(r.local_epochs), str(r.batch_size),
            f"{r.lr:g}", f"{r.n_reached}/{r.n_seeds}",
            f"not reached in {r.rounds}" if pd.isna(median) else f"{median:g}",
            r.rounds_to_target_per_seed, num(r.published_mcmahan), num(r.published_flower),
        ])
    return header, rows


def write_targets_pdf(path: Path, table: pd.DataFrame, curves: pd.DataFrame, name: str) -> Path:
    """A short PDF: the rounds-to-target table and the accuracy curves."""
    from matplotlib.backends.backend_pdf import PdfPages

    from fedbench import plots
    from fedbench.report import _columns, _Document

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with plots.style(), PdfPages(tmp, metadata={"Title": f"fedbench targets: {name}",
                                               "CreationDate": None}) as pdf:
        doc = _Document(pdf, footer=f"fedbench · {name}")
        doc.new_page()
        doc.heading("Rounds to target (McMahan et al. 2017)", keep_with=3.0)
        doc.paragraph(
            "FedAvg on MNIST, 100 clients, C = 0.1. Rounds to target: per seed the first round "
            "whose test accuracy (10,000 MNIST test images) is at or above the target (97 % "
            "2NN, 99 % CNN); median over seeds, '-' = not reached within the run's rounds. "
            f"Published: {MCMAHAN_SOURCE}; Flower: its CNN non-IID replication (all 100 "
            "clients per round, so not the same C).", size=8.5)
        header, rows = table_rows(table)
        doc.table(_columns(header, rows, 7.5), rows, size=7.5)
        n_published = len(MCMAHAN_TABLE2)
        doc.paragraph(f"McMahan's Table 2 values transcribed: {n_published} (CNN only; "
                      "PROTOCOLS.md §3). B = ∞ is the full local batch.", size=8, color="#5a5a5a")
        doc.plot(lambda fig, anchor: _draw_into(fig, curves), height=4.0)
        doc.finish_page()
    os.replace(tmp, path)
    return path


def _draw_into(fig, curves: pd.DataFrame) -> None:
    groups = sorted({(p, m) for p, m in curves[["protocol", "model"]].itertuples(index=False)})
    axes = fig.subplots(1, max(1, len(groups)), squeeze=False)[0]
    for ax, (protocol, model) in zip(axes, groups, strict=False):
        mine = curves[(curves["protocol"] == protocol) & (curves["model"] == model)]
        for (e, b, lr), line in mine.groupby(["local_epochs", "batch_size", "lr"], dropna=False):
            mean = line.groupby("round")["test_accuracy"].mean()
            label = f"E={e} B={'∞' if b != b or b is None else int(b)} lr={lr:g}"
            ax.plot(mean.index, mean.to_numpy(), linewidth=1.1, label=label)
        if model in MCMAHAN_TARGETS:
            ax.axhline(MCMAHAN_TARGETS[model], color="#333333", linewidth=0.8, linestyle=":")
        ax.set_title(f"{model}, {protocol}", fontsize=8.5)
        ax.set_xlabel("round")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=6.5, frameon=False)
