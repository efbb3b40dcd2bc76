"""Figures of the reports: the published loss/accuracy grid, final accuracy vs stragglers,
the FedProx paper's by-dataset grid, and accuracy per round against a target accuracy.

Drawing functions take a target (a matplotlib ``Figure`` or ``SubFigure``) so
the same code draws the standalone PNG/PDF files and the pages of the report.
Only the object-oriented API is used (no pyplot): no global figure state, no
backend switching, safe to call from parallel Snakemake jobs. Text is plain
matplotlib text (no TeX) and fonts are embedded as TrueType so that PDF text
can be searched and extracted.

Averaging follows ``fedbench.analysis.summary``: diverged runs are left out of every
mean and band, and the panels say so. Every file is written through ``fedbench.io`` (no
half-written figure ever exists) without creation dates or software tags, so the same data
gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure

from fedbench.algorithms import sort_key
from fedbench.analysis.summary import LAST_K
from fedbench.analysis.targets import batch_order, target_of
from fedbench.config import FULL_BATCH
from fedbench.io import atomic_write
from fedbench.protocols import get_protocol, registry

# Colour-blind-safe (Okabe–Ito), assigned in variant order: the baseline (FedAvg) first,
# then by algorithm and μ.
PALETTE = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")
LINESTYLES = ("--", "-", "-", "-.", ":", "-", "--", "-.")
MARKERS = ("s", "o", "^", "D", "v", "P", "X", "*")
RC = {
    "pdf.fonttype": 42,  # TrueType: text stays extractable (pypdf) and searchable
    "ps.fonttype": 42,
    "text.usetex": False,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}
FIGURE_NAMES = ("curves", "final_accuracy")
# The FedProx paper's Figure 1 layout (columns: datasets, rows: straggler rates), drawn when a
# grid has a federated protocol: training loss over every device's data, and test accuracy.
BY_DATASET_FIGURES = {"training_loss": ("global_train_loss", "training loss"),
                      "test_accuracy_by_dataset": ("test_accuracy", "test accuracy")}
FORMATS = ("png", "pdf")


def extra_figure_names(protocols: Sequence[str]) -> list[str]:
    """Names of the figures beyond FIGURE_NAMES that a grid of ``protocols`` gets."""
    if any(get_protocol(p).evaluation == "federated" for p in protocols):
        return list(BY_DATASET_FIGURES)
    return []

Target = Figure | SubFigure


@contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib settings, applied only while drawing."""
    with mpl.rc_context(RC):
        yield


def variants_in(frame: pd.DataFrame) -> list[tuple[str, float, str]]:
    """(algorithm, mu, label) of every variant in ``frame``, in legend order."""
    seen = {(str(a), float(m), str(v))
            for a, m, v in frame[["algorithm", "mu", "variant"]].itertuples(index=False)}
    return sorted(seen, key=lambda amv: sort_key(amv[0], amv[1]))


def variant_styles(variants: Sequence[tuple[str, float, str]]) -> dict[str, dict[str, Any]]:
    """Colour, line style and marker per variant label, fixed by the variant order.

    The order is a function of the variants alone (the baseline first, then by algorithm
    and μ), so the same grid always gets the same colours in every figure.
    """
    return {label: {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i % len(PALETTE)],
                    "marker": MARKERS[i % len(MARKERS)]}
            for i, (_a, _m, label) in enumerate(variants)}


def _rows(frame: pd.DataFrame) -> list[tuple[str, float]]:
    return sorted({(str(p), float(s)) for p, s in frame[["protocol", "stragglers"]]
                   .itertuples(index=False)})


def _row_title(protocol: str, stragglers: float, many_protocols: bool) -> str:
    title = f"{stragglers:.0%} stragglers"
    return f"{protocol}, {title}" if many_protocols else title


def seed_bands(rounds_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and sample std over seeds of ``metric`` per (cell, round), ok runs only.

    A single seed has no spread: its std is NaN and no band is drawn.
    """
    ok = rounds_df[rounds_df["status"] == "ok"]
    keys = ["protocol", "algorithm", "mu", "stragglers", "variant", "round"]
    grouped = ok.groupby(keys, sort=True)[metric]
    return grouped.agg(mean="mean", std=lambda s: s.std(ddof=1), n="count").reset_index()


def draw_curves(target: Target, rounds_df: pd.DataFrame,
                legend_anchor: tuple[float, float] | None = None) -> None:
    """The published grid: one row per straggler level, test loss | test accuracy.

    Variants are drawn in reverse legend order so that FedAvg's dashed line stays
    visible where it coincides with FedProx μ=0 (no stragglers: same algorithm).
    ``legend_anchor`` (figure fraction, top centre of the legend) places the legend
    where a page layout reserved room for it; by default it goes above the axes.
    """
    rows = _rows(rounds_df)
    variants = variants_in(rounds_df)
    styles = variant_styles(variants)
    many = len({p for p, _ in rows}) > 1
    axes = np.atleast_2d(target.subplots(len(rows), 2, sharex=True, squeeze=False))
    bands = {m: seed_bands(rounds_df, m) for m in ("test_loss", "test_accuracy")}
    runs = rounds_df.drop_duplicates(["protocol", "algorithm", "mu", "stragglers", "seed"])
    for i, (protocol, sf) in enumerate(rows):
        notes = []
        in_row = runs[(runs["protocol"] == protocol) & (runs["stragglers"] == sf)]
        for _a, _m, label in variants:
            mine = in_row[in_row["variant"] == label]
            n_div = int((mine["status"] == "diverged").sum())
            if n_div:
                notes.append(f"{label}: {n_div}/{len(mine)} seeds diverged (excluded)")
            n_failed = int((mine["status"] == "failed").sum())
            if n_failed:
                notes.append(f"{label}: {n_failed}/{len(mine)} seeds failed (excluded)")
        for j, (metric, ylabel) in enumerate((("test_loss", "test loss (mean CE)"),
                                              ("test_accuracy", "test accuracy"))):
            ax = axes[i, j]
            data = bands[metric]
            data = data[(data["protocol"] == protocol) & (data["stragglers"] == sf)]
            for _a, _m, label in reversed(variants):
                line = data[data["variant"] == label]
                if line.empty:
                    continue
                st = styles[label]
                ax.plot(line["round"], line["mean"], color=st["color"],
                        linestyle=st["linestyle"], linewidth=1.4, label=label)
                low, high = line["mean"] - line["std"], line["mean"] + line["std"]
                ax.fill_between(line["round"], low, high, color=st["color"], alpha=0.18,
                                linewidth=0)
            ax.set_title(f"{_row_title(protocol, sf, many)} — {ylabel.split(' (')[0]}")
            ax.set_ylabel(ylabel)
            if i == len(rows) - 1:
                ax.set_xlabel("round")
            if notes and j == 1:
                ax.text(0.98, 0.04, "\n".join(notes), transform=ax.transAxes, ha="right",
                        va="bottom", fontsize=7, color="#333333")
    _legend(target, variants, styles, markers=False, anchor=legend_anchor)


def draw_by_dataset(target: Target, rounds_df: pd.DataFrame, metric: str, ylabel: str,
                    legend_anchor: tuple[float, float] | None = None) -> None:
    """The FedProx paper's Figure 1: columns = datasets (protocols), rows = straggler rates.

    Lines are the variants (FedAvg, FedProx μ=0, FedProx μ>0), mean over seeds
    with ±1 std bands; diverged runs are left out.
    """
    protocols = sorted({str(p) for p in rounds_df["protocol"]})
    levels = sorted({float(s) for s in rounds_df["stragglers"]})
    variants = variants_in(rounds_df)
    styles = variant_styles(variants)
    axes = np.atleast_2d(target.subplots(len(levels), len(protocols), sharex="col",
                                         squeeze=False))
    bands = seed_bands(rounds_df, metric)
    for i, sf in enumerate(levels):
        for j, protocol in enumerate(protocols):
            ax = axes[i, j]
            data = bands[(bands["protocol"] == protocol) & (bands["stragglers"] == sf)]
            for _a, _m, label in reversed(variants):
                line = data[data["variant"] == label].dropna(subset=["mean"])
                if line.empty:
                    continue
                st = styles[label]
                ax.plot(line["round"], line["mean"], color=st["color"],
                        linestyle=st["linestyle"], linewidth=1.3, label=label)
                ax.fill_between(line["round"], line["mean"] - line["std"],
                                line["mean"] + line["std"], color=st["color"], alpha=0.18,
                                linewidth=0)
            ax.set_title(f"{protocol}, {sf:.0%} stragglers", fontsize=8.5)
            if j == 0:
                ax.set_ylabel(ylabel)
            if i == len(levels) - 1:
                ax.set_xlabel("round")
    _legend(target, variants, styles, markers=False, anchor=legend_anchor)


def by_dataset_figure(rounds_df: pd.DataFrame, metric: str, ylabel: str) -> Figure:
    n_cols = rounds_df["protocol"].nunique()
    n_rows = rounds_df["stragglers"].nunique()
    fig = Figure(figsize=(max(4.0, 2.6 * n_cols), 0.8 + 2.2 * n_rows), layout="constrained")
    draw_by_dataset(fig, rounds_df, metric, ylabel)
    return fig


def draw_final_accuracy(target: Target, summary_df: pd.DataFrame,
                        legend_anchor: tuple[float, float] | None = None) -> None:
    """Last-10 mean accuracy vs straggler rate, ±1 std over seeds, one series per variant
    (one panel per protocol when the grid has several)."""
    variants = variants_in(summary_df)
    styles = variant_styles(variants)
    protocols = sorted({str(p) for p in summary_df["protocol"]})
    axes = np.atleast_1d(target.subplots(1, len(protocols), squeeze=False)[0])
    for ax, protocol in zip(axes, protocols, strict=True):
        _final_accuracy_panel(ax, summary_df[summary_df["protocol"] == protocol], variants,
                              styles, protocol if len(protocols) > 1 else "")
    _legend(target, variants, styles, markers=True, anchor=legend_anchor)


def _final_accuracy_panel(ax, summary_df: pd.DataFrame, variants, styles, protocol: str) -> None:
    levels = sorted({float(s) for s in summary_df["stragglers"]})
    step = 0.012 * ((max(levels) - min(levels)) or 1.0)  # dodge so error bars do not overlap
    for k, (_a, _m, label) in enumerate(variants):
        rows = summary_df[summary_df["variant"] == label].sort_values("stragglers")
        offset = (k - (len(variants) - 1) / 2) * step
        x = rows["stragglers"].to_numpy(dtype=float) + offset
        st = styles[label]
        ax.errorbar(x, rows["last10_acc_mean"], yerr=rows["last10_acc_std"].fillna(0.0),
                    color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                    markersize=5, capsize=3, linewidth=1.3, label=label)
        for xi, row in zip(x, rows.itertuples(index=False), strict=True):
            if row.status in ("diverged", "failed"):
                ax.plot([xi], [0.02], marker="x", color=st["color"], markersize=7,
                        transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xticks(levels, [f"{s:.0%}" for s in levels])
    ax.set_xlabel("straggler rate")
    rounds = int(summary_df["rounds"].max())
    ax.set_ylabel(f"test accuracy, mean of last {min(LAST_K, rounds)} rounds")
    title = "Final accuracy vs stragglers (mean ± 1 std over seeds"
    if (summary_df["status"] == "diverged").any():
        title += "; × = all seeds diverged"
    if (summary_df["status"] == "failed").any():
        title += "; × = all seeds diverged or failed"
    ax.set_title(f"{protocol}: last-10 accuracy" if protocol else title + ")")


def _legend(target: Target, variants: Sequence[tuple[str, float, str]],
            styles: dict[str, dict[str, Any]], markers: bool,
            anchor: tuple[float, float] | None = None) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=styles[label]["color"], linestyle=styles[label]["linestyle"],
                      marker=styles[label]["marker"] if markers else None, linewidth=1.6)
               for _a, _m, label in variants]
    labels = [label for _a, _m, label in variants]
    if anchor is None:
        target.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 4),
                      frameon=False)
    else:
        target.legend(handles, labels, loc="upper center", bbox_to_anchor=anchor,
                      ncol=min(len(labels), 4), frameon=False)


def curves_figure(rounds_df: pd.DataFrame, width: float = 8.0) -> Figure:
    """A standalone figure of the loss/accuracy grid (height grows with the rows)."""
    n_rows = len(_rows(rounds_df))
    fig = Figure(figsize=(width, 0.6 + 2.4 * n_rows), layout="constrained")
    draw_curves(fig, rounds_df)
    return fig


def final_accuracy_figure(summary_df: pd.DataFrame, width: float = 6.0) -> Figure:
    width = max(width, 3.2 * summary_df["protocol"].nunique())
    fig = Figure(figsize=(width, 4.0), layout="constrained")
    draw_final_accuracy(fig, summary_df)
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` in the format its suffix names (atomically, ``fedbench.io``).

    Creation dates and software tags are left out so that the same data gives
    the same bytes.
    """
    fmt = path.suffix.lstrip(".")
    metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
    atomic_write(path, lambda handle: fig.savefig(handle, format=fmt, dpi=150,
                                                  metadata=metadata))


def save_figures(rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
                 figures_dir: str | Path) -> list[Path]:
    """Write figures/curves.{png,pdf} and figures/final_accuracy.{png,pdf}, and for grids
    with a federated protocol figures/{training_loss,test_accuracy_by_dataset}.{png,pdf}."""
    out = Path(figures_dir)
    written = []
    with style():
        figures = {"curves": curves_figure(rounds_df),
                   "final_accuracy": final_accuracy_figure(summary_df)}
        for name in extra_figure_names(sorted({str(p) for p in rounds_df["protocol"]})):
            figures[name] = by_dataset_figure(rounds_df, *BY_DATASET_FIGURES[name])
        for name in figures:
            for fmt in FORMATS:
                path = out / f"{name}.{fmt}"
                save_figure(figures[name], path)
                written.append(path)
    return written


# --------------------------------------------------------------------------- rounds to target

TARGET_FIGURE = "target_curves"


def batch_text(batch: int) -> str:
    """B as the papers write it: "∞" for the full local batch (``FULL_BATCH``)."""
    return "∞" if int(batch) == FULL_BATCH else str(int(batch))


def partition_label(protocol: str) -> str:
    """The short name of a protocol's split in tables and panel titles ("IID", "non-IID"):
    its ``docs.short_title``; a protocol without one, or no longer registered, by its name."""
    found = registry().get(protocol)
    return found.docs.short_title if found is not None and found.docs.short_title else protocol


def target_panels(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(protocol, model) of every panel of the target curves, in drawing order."""
    return sorted({(p, m) for p, m in curves[["protocol", "model"]].itertuples(index=False)})


def _batch_last(epochs: Any, batch: Any, *rest: Any) -> tuple[Any, ...]:
    """Order of settings in legends and colours: by E, then B (B = ∞ last), then lr."""
    return (int(epochs), batch_order(batch), *rest)


def _setting_colors(curves: pd.DataFrame) -> dict[tuple[int, int], Any]:
    """One colour per (E, B), the same in every panel."""
    from matplotlib import colormaps

    keys = sorted({(int(e), int(b)) for e, b in curves[["local_epochs", "batch_size"]]
                   .itertuples(index=False)}, key=lambda eb: _batch_last(*eb))
    cmap = colormaps["tab10"]
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def _y_floor(mine: pd.DataFrame, target: float) -> float:
    """Bottom of a panel's accuracy axis: at most 10 points under the target, low enough
    that every setting's best accuracy shows."""
    trained = mine[mine["round"] >= 1]
    best = trained.groupby(["local_epochs", "batch_size", "lr", "seed"])["test_accuracy"].max()
    lowest_best = float(best.min()) if len(best) and best.notna().any() else 0.0
    floor = min(target - 0.1 if math.isfinite(target) else 0.0, lowest_best - 0.02)
    return max(0.0, math.floor(floor * 100) / 100)


def draw_target_curves(fig: Target, curves: pd.DataFrame, runs_df: pd.DataFrame | None = None,
                       panels: Sequence[tuple[str, str]] | None = None) -> None:
    """Test accuracy per round, one panel per (partition, model), one colour per (E, B).

    Each seed is a thin line; the thick line is the mean over seeds, drawn only over the
    rounds every seed ran (a run that stopped at the target or diverged ends its line, so
    the mean never becomes the mean of the seeds left). A dot marks where a run stopped at
    the target; the dotted line is the target. Long runs (more than 100 rounds) get a
    logarithmic round axis.
    """
    panels = list(panels) if panels is not None else target_panels(curves)
    colors = _setting_colors(curves)
    stopped = {}
    if runs_df is not None and "stopped_at_target" in runs_df:
        for r in runs_df.itertuples(index=False):
            if r.stopped_at_target is not None and r.stopped_at_target == r.stopped_at_target:
                stopped[(r.protocol, r.model, int(r.local_epochs), int(r.batch_size),
                         float(r.lr), int(r.seed))] = int(r.stopped_at_target)
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, (protocol, model) in zip(axes, panels, strict=False):
        mine = curves[(curves["protocol"] == protocol) & (curves["model"] == model)]
        target = target_of(protocol, model)
        log_x = int(mine["round"].max()) > 100
        shown = mine[mine["round"] >= 1] if log_x else mine
        any_stop = False
        settings = shown.groupby(["local_epochs", "batch_size", "lr"], sort=True)
        for (e, b, lr), line in sorted(settings, key=lambda kv: _batch_last(*kv[0])):
            color = colors[(int(e), int(b))]
            wide = line.pivot(index="round", columns="seed",
                              values="test_accuracy").sort_index()
            n = wide.shape[1]
            if n > 1:
                for seed in wide.columns:
                    s = wide[seed].dropna()
                    ax.plot(s.index, s.to_numpy(), color=color, linewidth=0.5, alpha=0.35)
            common = wide.dropna(how="any")  # rounds every seed ran
            label = f"E={int(e)} B={batch_text(b)} lr={float(lr):g}"
            ax.plot(common.index, common.mean(axis=1).to_numpy(), color=color, linewidth=1.3,
                    label=label)
            for seed in wide.columns:
                r = stopped.get((protocol, model, int(e), int(b), float(lr), int(seed)))
                if r is not None and r in wide.index:
                    any_stop = True
                    ax.plot([r], [wide.at[r, seed]], marker="o", markersize=3.2, color=color,
                            linestyle="none")
        if math.isfinite(target):
            ax.axhline(target, color="#333333", linewidth=0.8, linestyle=":",
                       label=f"target {target:.0%}")
            ax.set_ylim(_y_floor(mine, target), 1.0)
        if any_stop:
            ax.plot([], [], marker="o", markersize=3.2, color="#555555", linestyle="none",
                    label="run stopped at the target")
        if log_x:
            ax.set_xscale("log")
            ax.set_xlim(left=1)
        ax.set_title(f"{model.upper()}, {partition_label(protocol)} ({protocol})", fontsize=8.5)
        ax.set_xlabel("round" + (" (log scale)" if log_x else ""))
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def target_curves_figure(curves: pd.DataFrame, runs_df: pd.DataFrame | None = None) -> Figure:
    n = len(target_panels(curves))
    fig = Figure(figsize=(7.5, 0.6 + 2.6 * max(1, n)), layout="constrained")
    draw_target_curves(fig, curves, runs_df)
    return fig


def save_target_curves(curves: pd.DataFrame, runs_df: pd.DataFrame | None,
                       figures_dir: str | Path) -> list[Path]:
    """Write figures/target_curves.{png,pdf}."""
    written = []
    with style():
        fig = target_curves_figure(curves, runs_df)
        for fmt in FORMATS:
            path = Path(figures_dir) / f"{TARGET_FIGURE}.{fmt}"
            save_figure(fig, path)
            written.append(path)
    return written
